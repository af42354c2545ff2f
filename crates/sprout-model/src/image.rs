//! Image references as Docker reads them: which registry an image comes from, its repository,
//! and the same image named by digest or through a mirror.
//!
//! `nginx:1.25` is `docker.io/library/nginx:1.25`; a first component with a `.` or a `:` or
//! `localhost` names the registry (`127.0.0.1:5000/adserver/app:2`, `quay.io/team/app`).
//! Pure string work: nothing here checks that a registry or an image exists.

/// Docker Hub's registry host as Sprout names it; `index.docker.io`, `registry-1.docker.io` and
/// Docker's config key `https://index.docker.io/v1/` are the same registry.
pub const DOCKER_HUB: &str = "docker.io";

/// A registry host as credentials and circuits are keyed: lower case, without a scheme or a
/// path, with Docker Hub's aliases folded into `docker.io`.
pub fn normalize_registry_host(host: &str) -> String {
    let host = host.trim();
    let host = host.strip_prefix("https://").or_else(|| host.strip_prefix("http://")).unwrap_or(host);
    let host = host.split('/').next().unwrap_or(host).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB.to_string(),
        _ => host,
    }
}

/// Is `host` acceptable as a registry host (`HOST[:PORT]`, no path, no spaces)?
pub fn check_registry_host(host: &str) -> Result<(), String> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        && !host.starts_with(['.', '-', ':']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{host:?} is not a registry host: give it as in image names, e.g. quay.io, ghcr.io or 127.0.0.1:5000"
        ))
    }
}

/// An image reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (`docker.io` when the reference names none).
    pub registry: String,
    /// Repository path within the registry (`library/nginx` for Docker Hub's official images).
    pub repository: String,
    /// `:tag` or `@sha256:...` as written, or empty.
    pub suffix: String,
}

impl ImageRef {
    pub fn parse(image: &str) -> ImageRef {
        let (name, suffix) = match image.find('@') {
            Some(at) => (&image[..at], &image[at..]),
            None => {
                let last_slash = image.rfind('/').map_or(0, |i| i + 1);
                match image[last_slash..].rfind(':') {
                    Some(colon) => image.split_at(last_slash + colon),
                    None => (image, ""),
                }
            }
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (normalize_registry_host(first), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        ImageRef { registry, repository, suffix: suffix.to_string() }
    }

    /// The same image in `registry` (a mirror), e.g. `mirror:5001/library/nginx:1.25`.
    pub fn in_registry(&self, registry: &str) -> String {
        format!("{registry}/{}{}", self.repository, self.suffix)
    }

    /// The repository name as Docker shows it in `RepoDigests` (`nginx` for Docker Hub's
    /// official images, `quay.io/team/app` elsewhere).
    pub fn name(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.repository.strip_prefix("library/").unwrap_or(&self.repository).to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// The image by content: `NAME@sha256:...`.
    pub fn by_digest(&self, digest: &str) -> String {
        format!("{}@{digest}", self.name())
    }
}

/// The registry host an image comes from.
pub fn registry_of(image: &str) -> String {
    ImageRef::parse(image).registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_as_docker_reads_them() {
        let cases = [
            ("nginx", "docker.io", "library/nginx", ""),
            ("nginx:1.25", "docker.io", "library/nginx", ":1.25"),
            ("team/app:2", "docker.io", "team/app", ":2"),
            ("quay.io/team/app:2", "quay.io", "team/app", ":2"),
            ("127.0.0.1:5000/adserver/app:2", "127.0.0.1:5000", "adserver/app", ":2"),
            ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", ""),
            ("localhost/app:1", "localhost", "app", ":1"),
            ("ghcr.io/o/r@sha256:abc", "ghcr.io", "o/r", "@sha256:abc"),
            ("sprout-example/adserver:latest", "docker.io", "sprout-example/adserver", ":latest"),
            ("index.docker.io/library/nginx", "docker.io", "library/nginx", ""),
        ];
        for (image, registry, repository, suffix) in cases {
            let r = ImageRef::parse(image);
            assert_eq!((r.registry.as_str(), r.repository.as_str(), r.suffix.as_str()), (registry, repository, suffix));
        }
    }

    #[test]
    fn mirrors_and_digests_name_the_same_image() {
        let r = ImageRef::parse("nginx:1.25");
        assert_eq!(r.in_registry("127.0.0.1:5001"), "127.0.0.1:5001/library/nginx:1.25");
        assert_eq!(r.by_digest("sha256:ab"), "nginx@sha256:ab");
        let r = ImageRef::parse("127.0.0.1:5000/adserver/app:2");
        assert_eq!(r.in_registry("127.0.0.1:5001"), "127.0.0.1:5001/adserver/app:2");
        assert_eq!(r.by_digest("sha256:ab"), "127.0.0.1:5000/adserver/app@sha256:ab");
    }

    #[test]
    fn registry_hosts_normalize_and_check() {
        assert_eq!(normalize_registry_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_registry_host("Quay.IO"), "quay.io");
        assert_eq!(normalize_registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert!(check_registry_host("127.0.0.1:5000").is_ok());
        assert!(check_registry_host("quay.io").is_ok());
        for bad in ["", "a b", "quay.io/team", ":5000"] {
            assert!(check_registry_host(bad).is_err(), "{bad}");
        }
    }
}
