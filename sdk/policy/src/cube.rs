//! QoS cube names, as policy parameters spell them.

/// The cube byte for `name`: `raw` 0, `best-effort` 1, `video` 2, `voice` 3, `data` 4, or
/// the number itself (0–4).
pub fn parse_cube(name: &str) -> Option<u8> {
    Some(match name.trim() {
        "raw" => 0,
        "best-effort" => 1,
        "video" => 2,
        "voice" => 3,
        "data" => 4,
        n => n.parse().ok().filter(|&c: &u8| c <= 4)?,
    })
}

/// The cubes named in `names`, ascending, without repeats; an unknown name is an error.
pub fn parse_cubes<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<u8>, String> {
    let mut cubes = names
        .into_iter()
        .map(|n| parse_cube(n).ok_or_else(|| format!("unknown QoS cube {n:?}")))
        .collect::<Result<Vec<u8>, String>>()?;
    cubes.sort_unstable();
    cubes.dedup();
    Ok(cubes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_cubes(["voice", "1", "voice"]), Ok(vec![1, 3]));
        assert_eq!(parse_cube("data"), Some(4));
        assert!(parse_cubes(["gold"]).is_err());
        assert!(parse_cube("5").is_none());
    }
}
