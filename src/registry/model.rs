//! What a registry question is made of: an image as scripts write it, a tag, and where the
//! image's registry is.

use std::fmt;

use crate::rest::segment;

/// An image as scripts write it, `ghcr.io/wordpress/openverse-catalog`: the registry host (and
/// port, if any), then the repository name.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub host: String,
    pub name: String,
}

impl Image {
    pub fn parse(text: &str) -> Result<Image, String> {
        let text = text.trim();
        let example = "like ghcr.io/wordpress/openverse-catalog";
        if text.contains("://") {
            return Err(format!(
                "`{text}`: write the image without a scheme, {example}"
            ));
        }
        let Some((host, name)) = text.split_once('/') else {
            return Err(format!(
                "`{text}` is not an image: write its registry host, then its name, {example}"
            ));
        };
        // Docker's rule: the first part is a registry host if it has a dot or a port, or is
        // localhost. Without one docker would guess Docker Hub; a runbook says where it looks.
        if !(host.contains('.') || host.contains(':') || host == "localhost") {
            return Err(format!(
                "`{text}` names no registry: write its host first, {example}"
            ));
        }
        let last = name.rsplit('/').next().unwrap_or_default();
        if last.contains(':') || last.contains('@') {
            return Err(format!(
                "`{text}`: give the image without its tag or digest, and the tag as the second argument: registry.has_tag(\"{host}/{}\", \"{}\")",
                name.split([':', '@']).next().unwrap_or_default(),
                last.split([':', '@']).nth(1).unwrap_or_default()
            ));
        }
        if name != name.to_ascii_lowercase() {
            return Err(format!(
                "`{text}`: image names are lower case: {host}/{}",
                name.to_ascii_lowercase()
            ));
        }
        if let Some(bad) = name.split('/').find(|c| !is_name_component(c)) {
            return Err(format!(
                "`{text}`: `{bad}` is not a valid part of an image name (letters, digits and . _ -, starting and ending with a letter or digit)"
            ));
        }
        Ok(Image {
            host: host.to_ascii_lowercase(),
            name: name.to_string(),
        })
    }

    /// The name as a URL path: each part encoded on its own, the slashes between kept.
    pub fn path(&self) -> String {
        self.name
            .split('/')
            .map(segment)
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.name)
    }
}

/// One `/`-separated part of a repository name, as the distribution spec allows it.
fn is_name_component(part: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    part.starts_with(alnum)
        && part.ends_with(alnum)
        && part
            .chars()
            .all(|c| alnum(c) || matches!(c, '.' | '_' | '-'))
}

/// A tag as the distribution spec allows it: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn check_tag(tag: &str) -> Result<&str, String> {
    let tag = tag.trim();
    let valid = tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(tag)
    } else {
        Err(format!(
            "`{tag}` is not a tag (letters, digits and . _ -, at most 128), e.g. rel-2024.05.02.10.00.00"
        ))
    }
}

/// Where the registry of an image at `host` is: `configured` (`[registry] url`, a mirror or the
/// rehearsal's fake) when set, else the host itself. Without a scheme, a registry on this machine
/// is spoken to over plain HTTP, as docker does, and any other over HTTPS.
pub fn registry_url(host: &str, configured: Option<&str>) -> Result<String, String> {
    let Some(configured) = configured else {
        return Ok(format!("{}://{host}", scheme_for(host)));
    };
    let configured = configured.trim().trim_end_matches('/');
    let configured = configured.strip_suffix("/v2").unwrap_or(configured);
    if !configured.contains("://") {
        return Ok(format!("{}://{configured}", scheme_for(configured)));
    }
    match url::Url::parse(configured) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(configured.to_string())
        }
        _ => Err(format!(
            "the registry URL `{configured}` is not an http(s) URL"
        )),
    }
}

/// `http` for loopback (`localhost`, `127.x.x.x`, `[::1]`, with or without a port), else `https`.
fn scheme_for(host: &str) -> &'static str {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(name, _)| name)
    };
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        "http"
    } else {
        "https"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text: &str) -> Image {
        Image::parse(text).unwrap()
    }

    #[test]
    fn an_image_is_a_host_then_a_name() {
        assert_eq!(
            image("ghcr.io/wordpress/openverse-catalog"),
            Image {
                host: "ghcr.io".into(),
                name: "wordpress/openverse-catalog".into()
            }
        );
        let local = image(" localhost:5000/team/sub/app_x.y ");
        assert_eq!(
            (local.host.as_str(), local.name.as_str()),
            ("localhost:5000", "team/sub/app_x.y")
        );
        assert_eq!(local.to_string(), "localhost:5000/team/sub/app_x.y");
        assert_eq!(image("127.0.0.1:41234/a/b").host, "127.0.0.1:41234");
        assert_eq!(image("localhost/a").host, "localhost");
        assert_eq!(image("GHCR.IO/wordpress/openverse-catalog").host, "ghcr.io");
    }

    #[test]
    fn a_wrong_image_says_how_to_write_it() {
        let err = |text: &str| Image::parse(text).unwrap_err();
        assert!(err("wordpress/openverse-catalog").contains("names no registry"));
        assert!(err("openverse-catalog").contains("registry host, then its name"));
        assert!(err("https://ghcr.io/wordpress/x").contains("without a scheme"));
        let tagged = err("ghcr.io/wordpress/openverse-catalog:rel-1");
        assert!(
            tagged.contains(r#"registry.has_tag("ghcr.io/wordpress/openverse-catalog", "rel-1")"#),
            "{tagged}"
        );
        assert!(err("ghcr.io/a/b@sha256:00").contains("without its tag or digest"));
        let upper = err("ghcr.io/WordPress/openverse-catalog");
        assert!(
            upper.contains("ghcr.io/wordpress/openverse-catalog"),
            "{upper}"
        );
        assert!(err("ghcr.io/a//b").contains("``"));
        assert!(err("ghcr.io/-a/b").contains("`-a`"));
        assert!(err("ghcr.io/a/b?x").contains("`b?x`"));
    }

    #[test]
    fn a_name_goes_into_the_path_encoded_part_by_part() {
        assert_eq!(
            image("ghcr.io/wordpress/openverse-ingestion_server").path(),
            "wordpress/openverse-ingestion_server"
        );
    }

    #[test]
    fn tags_are_checked() {
        assert_eq!(
            check_tag(" rel-2024.05.02.10.00.00 "),
            Ok("rel-2024.05.02.10.00.00")
        );
        assert_eq!(check_tag("_x"), Ok("_x"));
        assert!(check_tag("").is_err());
        assert!(check_tag(".x").is_err());
        assert!(check_tag("a/b").is_err());
        assert!(check_tag("sha256:abc").is_err());
        assert!(check_tag(&"x".repeat(129)).is_err());
    }

    #[test]
    fn loopback_is_plain_http_and_the_rest_https() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.0.0.1:41234",
            "127.1.2.3:80",
            "[::1]:5000",
            "[::1]",
        ] {
            assert_eq!(registry_url(host, None).unwrap(), format!("http://{host}"));
        }
        for host in [
            "ghcr.io",
            "registry.example.org:5000",
            "10.0.0.1:5000",
            "localhost.example.org",
        ] {
            assert_eq!(registry_url(host, None).unwrap(), format!("https://{host}"));
        }
    }

    #[test]
    fn the_configured_url_replaces_the_images_host() {
        let url = |configured: &str| registry_url("ghcr.io", Some(configured));
        assert_eq!(
            url("http://127.0.0.1:40001").unwrap(),
            "http://127.0.0.1:40001"
        );
        assert_eq!(
            url("https://mirror.example.org/").unwrap(),
            "https://mirror.example.org"
        );
        assert_eq!(
            url("https://mirror.example.org/v2/").unwrap(),
            "https://mirror.example.org"
        );
        assert_eq!(
            url("https://proxy.example.org/ghcr").unwrap(),
            "https://proxy.example.org/ghcr"
        );
        // Without a scheme, the same rule as for an image's host.
        assert_eq!(url("127.0.0.1:5000").unwrap(), "http://127.0.0.1:5000");
        assert_eq!(
            url("mirror.example.org").unwrap(),
            "https://mirror.example.org"
        );
        assert!(url("ftp://mirror.example.org")
            .unwrap_err()
            .contains("not an http(s) URL"));
    }
}
