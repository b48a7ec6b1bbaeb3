//! Finding a distribution file in a Python package index (the "simple" API: PEP 691 JSON,
//! with the PEP 503 HTML form as fallback), so tools like pip can be fetched from whatever
//! index the user configured, mirrors included.

use crate::download::{self, DownloadError};
use serde::Deserialize;

/// The default index when none is configured.
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub filename: String,
    pub url: String,
    pub sha256: Option<String>,
}

#[derive(Debug)]
pub enum IndexError {
    Download(DownloadError),
    /// The project page has no file of that name.
    NotFound {
        index: String,
        filename: String,
    },
}

impl std::fmt::Display for IndexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Download(error) => error.fmt(f),
            Self::NotFound { index, filename } => write!(f, "{index} does not list {filename}"),
        }
    }
}

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::HashMap<String, String>,
}

/// Normalized project name (PEP 503).
#[must_use]
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Looks `filename` up on the project page of `project` in `index`.
///
/// # Errors
/// [`IndexError`] when the page cannot be fetched or does not list the file.
pub fn find_file(index: &str, project: &str, filename: &str) -> Result<IndexFile, IndexError> {
    let page_url = format!("{}/{}/", index.trim_end_matches('/'), normalize(project));
    let body = download::fetch(
        &page_url,
        Some("application/vnd.pypi.simple.v1+json, text/html;q=0.1"),
    )
    .map_err(IndexError::Download)?;
    let files = parse_page(&body, &page_url);
    files
        .into_iter()
        .find(|file| file.filename == filename)
        .ok_or_else(|| IndexError::NotFound {
            index: page_url,
            filename: filename.to_string(),
        })
}

/// Looks up the file with the given sha256 on the project page of `project` in `index`
/// (pins name a file by its hash; the filename is then whatever the index calls it).
///
/// # Errors
/// [`IndexError`] when the page cannot be fetched or lists no file with that hash.
pub fn find_file_by_sha256(
    index: &str,
    project: &str,
    sha256: &str,
) -> Result<IndexFile, IndexError> {
    let page_url = format!("{}/{}/", index.trim_end_matches('/'), normalize(project));
    let body = download::fetch(
        &page_url,
        Some("application/vnd.pypi.simple.v1+json, text/html;q=0.1"),
    )
    .map_err(IndexError::Download)?;
    parse_page(&body, &page_url)
        .into_iter()
        .find(|file| {
            file.sha256
                .as_deref()
                .is_some_and(|hash| hash.eq_ignore_ascii_case(sha256))
        })
        .ok_or_else(|| IndexError::NotFound {
            index: page_url,
            filename: format!("a file with sha256 {sha256}"),
        })
}

fn parse_page(body: &[u8], page_url: &str) -> Vec<IndexFile> {
    if let Ok(page) = serde_json::from_slice::<JsonPage>(body) {
        return page
            .files
            .into_iter()
            .map(|file| IndexFile {
                url: resolve(page_url, &file.url),
                sha256: file.hashes.get("sha256").cloned(),
                filename: file.filename,
            })
            .collect();
    }
    parse_html(&String::from_utf8_lossy(body), page_url)
}

/// Minimal PEP 503 parsing: `<a href="URL#sha256=HEX" …>FILENAME</a>`.
fn parse_html(html: &str, page_url: &str) -> Vec<IndexFile> {
    let mut files = Vec::new();
    for anchor in html.split("<a ").skip(1) {
        let Some(href_start) = anchor.find("href=\"") else {
            continue;
        };
        let rest = &anchor[href_start + 6..];
        let Some(href_end) = rest.find('"') else {
            continue;
        };
        let href = rest[..href_end].replace("&amp;", "&");
        let Some(text_start) = anchor.find('>') else {
            continue;
        };
        let Some(text_end) = anchor.find("</a>") else {
            continue;
        };
        if text_end <= text_start {
            continue;
        }
        let filename = anchor[text_start + 1..text_end].trim().to_string();
        let (url, fragment) = href.split_once('#').unwrap_or((href.as_str(), ""));
        files.push(IndexFile {
            filename,
            url: resolve(page_url, url),
            sha256: fragment.strip_prefix("sha256=").map(str::to_string),
        });
    }
    files
}

/// Resolves a possibly relative link against the page URL.
fn resolve(page_url: &str, link: &str) -> String {
    if link.contains("://") {
        return link.to_string();
    }
    let (scheme, rest) = page_url.split_once("://").unwrap_or(("https", page_url));
    if link.starts_with('/') {
        let host = rest.split('/').next().unwrap_or_default();
        return format!("{scheme}://{host}{link}");
    }
    let base = page_url.rsplit_once('/').map_or(page_url, |(base, _)| base);
    let mut parts: Vec<&str> = base.split('/').collect();
    for segment in link.split('/') {
        match segment {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_pages_resolve_relative_urls() {
        let body = br#"{"meta":{"api-version":"1.1"},"files":[{"filename":"pip-26.3-py3-none-any.whl","url":"../../packages/pip-26.3-py3-none-any.whl","hashes":{"sha256":"abc"}}]}"#;
        let files = parse_page(body, "https://mirror.example/simple/pip/");
        assert_eq!(
            files,
            vec![IndexFile {
                filename: "pip-26.3-py3-none-any.whl".into(),
                url: "https://mirror.example/packages/pip-26.3-py3-none-any.whl".into(),
                sha256: Some("abc".into()),
            }]
        );
    }

    #[test]
    fn html_pages_carry_hash_fragments() {
        let html = r#"<html><body><a href="/files/pip-26.3-py3-none-any.whl#sha256=def" data-requires-python="&gt;=3.9">pip-26.3-py3-none-any.whl</a></body></html>"#;
        let files = parse_page(html.as_bytes(), "http://127.0.0.1:9000/simple/pip/");
        assert_eq!(
            files[0].url,
            "http://127.0.0.1:9000/files/pip-26.3-py3-none-any.whl"
        );
        assert_eq!(files[0].sha256.as_deref(), Some("def"));
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize("Flask_SQLAlchemy"), "flask-sqlalchemy");
        assert_eq!(normalize("a.-_b"), "a-b");
    }
}
