//! The one page, assembled from the embedded assets: the dashboard serves it with no data (it asks the
//! API), the report writes it with the run's data embedded as JSON. Either way the CSS and JavaScript are
//! inlined, so the page never loads anything from the network.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::view::{ReportData, RunFiles};

const TEMPLATE: &str = include_str!("../assets/page.html");
const STYLE: &str = include_str!("../assets/style.css");
const SCRIPTS: [&str; 3] = [
    include_str!("../assets/highlight.js"),
    include_str!("../assets/app.js"),
    include_str!("../assets/detail.js"),
];

/// Where the page gets its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageMode {
    /// From the dashboard's API and event stream.
    Live,
    /// From the JSON embedded in the page.
    Report,
}

impl PageMode {
    fn as_str(self) -> &'static str {
        match self {
            PageMode::Live => "live",
            PageMode::Report => "report",
        }
    }
}

/// The page's HTML. `data` is embedded for a report; the live page gets `null`.
pub(crate) fn render_page(mode: PageMode, data: Option<&str>) -> String {
    let title = match mode {
        PageMode::Live => "ml-master dashboard",
        PageMode::Report => "ml-master report",
    };
    TEMPLATE
        .replace("/*@STYLE@*/", STYLE)
        .replace("@TITLE@", title)
        .replace("@MODE@", mode.as_str())
        .replace("@DATA@", data.unwrap_or("null"))
        .replace("//@SCRIPT@", &SCRIPTS.join("\n"))
}

/// JSON that is safe inside a `<script>` element: no `<`, `>` or `&` survives unescaped.
fn script_json(data: &ReportData) -> Result<String> {
    Ok(serde_json::to_string(data)?
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026"))
}

/// The self-contained report of the run in `run_dir`, as HTML.
pub fn render_report(run_dir: &Path) -> Result<String> {
    let data = RunFiles::new(run_dir).report_data()?;
    Ok(render_page(PageMode::Report, Some(&script_json(&data)?)))
}

/// Writes the report of the run in `run_dir` to `out` (default `<run>/report.html`) and returns its path.
pub fn write_report(run_dir: &Path, out: Option<&Path>) -> Result<PathBuf> {
    let html = render_report(run_dir)?;
    let path = out.map_or_else(|| run_dir.join("report.html"), Path::to_path_buf);
    std::fs::write(&path, html).map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_page_inlines_every_asset_and_embeds_no_data() {
        let html = render_page(PageMode::Live, None);
        assert!(html.contains("data-mode=\"live\""));
        assert!(html.contains("function highlightPython"));
        assert!(html.contains("--draft:"));
        assert!(
            !html.contains("@STYLE@") && !html.contains("@SCRIPT@") && !html.contains("@DATA@")
        );
        for reference in [
            "src=\"http",
            "href=\"http",
            "url(http",
            "@import",
            "src=\"//",
        ] {
            assert!(!html.contains(reference), "the page loads {reference}…");
        }
        assert!(html.contains(">null</script>"));
    }
}
