//! A small W3C WebDriver client for the console's browser tests: it starts Debian's
//! `chromedriver` on a free loopback port with headless `chromium` (fresh profile, no
//! background networking), and speaks the protocol with ureq. No browser download, no
//! Node: `scripts/test.sh` installs the two Debian packages when they are missing.
//!
//! A missing browser is a failure that says what to install, never a skip.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub const TAB: char = '\u{E004}';
pub const ENTER: char = '\u{E007}';

fn tool(var: &str, default: &str, package: &str) -> String {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: the console's browser tests need Debian's {package} package \
         (scripts/test.sh installs chromium and chromium-driver when they are missing; or \
         `apt-get install chromium chromium-driver`, or point {var} at it)"
    );
    path
}

/// Where screenshots go: `target/console-screenshots/`, kept as test artifacts.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    dir
}

/// An element reference.
#[derive(Debug, Clone)]
pub struct El(String);

pub struct Browser {
    driver: Child,
    endpoint: String,
    session: String,
    profile: PathBuf,
    /// Every URL the page asked for, gathered from Chromium's performance log.
    requests: Mutex<Vec<String>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn call(method: &str, url: &str, body: Option<&Value>) -> Result<Value, String> {
    let req = ureq::request(method, url).timeout(Duration::from_secs(60));
    let res = match body {
        Some(b) => req.send_json(b.clone()),
        None => req.call(),
    };
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(format!("{method} {url}: {e}")),
    };
    let status = resp.status();
    let v: Value = resp
        .into_json()
        .map_err(|e| format!("{method} {url}: not JSON: {e}"))?;
    if status >= 400 {
        return Err(format!("{method} {url}: {status} {}", v["value"]));
    }
    Ok(v["value"].clone())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session at 1280×900.
    pub fn start() -> Browser {
        let chromium = tool("MEMLINK_TEST_CHROMIUM", "/usr/bin/chromium", "chromium");
        let chromedriver = tool(
            "MEMLINK_TEST_CHROMEDRIVER",
            "/usr/bin/chromedriver",
            "chromium-driver",
        );
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {chromedriver}: {e}"));
        let endpoint = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while call("GET", &format!("{endpoint}/status"), None)
            .map(|v| v["ready"] != true)
            .unwrap_or(true)
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromedriver did not become ready on {endpoint}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = std::env::temp_dir().join(format!(
            "memlink-console-profile-{:016x}",
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&profile).expect("create a browser profile directory");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // As root on a closed network: no sandbox, nothing phoning home.
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
            "goog:loggingPrefs": {"performance": "ALL"},
        }}});
        let mut driver = driver;
        let created = match call("POST", &format!("{endpoint}/session"), Some(&caps)) {
            Ok(v) => v,
            Err(e) => {
                let _ = driver.kill();
                panic!("chromium did not start under chromedriver: {e}");
            }
        };
        let session = created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Browser {
            driver,
            endpoint,
            session,
            profile,
            requests: Mutex::new(Vec::new()),
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.endpoint, self.session);
        call(method, &url, body.as_ref()).unwrap_or_else(|e| panic!("webdriver: {e}"))
    }

    fn try_cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.endpoint, self.session);
        call(method, &url, body.as_ref())
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
        self.collect_requests();
    }

    pub fn current_url(&self) -> String {
        self.cmd("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn try_find(&self, css: &str) -> Option<El> {
        self.try_cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )
        .ok()
        .and_then(|v| v[ELEMENT].as_str().map(|s| El(s.to_owned())))
    }

    /// Waits up to 10 s for the element.
    pub fn find(&self, css: &str) -> El {
        self.wait(&format!("element {css}"), Duration::from_secs(10), |b| {
            b.try_find(css)
        })
    }

    pub fn find_all(&self, css: &str) -> Vec<El> {
        self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v[ELEMENT].as_str().map(|s| El(s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
    }

    pub fn click(&self, el: &El) {
        self.cmd("POST", &format!("/element/{}/click", el.0), Some(json!({})));
        self.collect_requests();
    }

    pub fn clear(&self, el: &El) {
        self.cmd("POST", &format!("/element/{}/clear", el.0), Some(json!({})));
    }

    /// Types into the element (WebDriver "send keys": real key events).
    pub fn type_into(&self, el: &El, text: &str) {
        self.cmd(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        );
    }

    /// Presses keys on whatever has the focus, one key at a time, as a keyboard user would.
    pub fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for c in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": c.to_string()}));
            actions.push(json!({"type": "keyUp", "value": c.to_string()}));
        }
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
        self.collect_requests();
    }

    pub fn text(&self, el: &El) -> String {
        self.cmd("GET", &format!("/element/{}/text", el.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The `textContent` of the first match, read in one step (an element htmx swaps out
    /// between a find and a read would be stale). Waits up to 10 s for it.
    pub fn text_of(&self, css: &str) -> String {
        self.wait(&format!("element {css}"), Duration::from_secs(10), |b| {
            b.exec(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                vec![json!(css)],
            )
            .as_str()
            .map(str::to_owned)
        })
    }

    /// An attribute of the first match, read in one step.
    pub fn attr_of(&self, css: &str, name: &str) -> Option<String> {
        self.exec(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            vec![json!(css), json!(name)],
        )
        .as_str()
        .map(str::to_owned)
    }

    pub fn attr(&self, el: &El, name: &str) -> Option<String> {
        self.cmd("GET", &format!("/element/{}/attribute/{name}", el.0), None)
            .as_str()
            .map(str::to_owned)
    }

    /// Runs a script in the page; `arguments[0..]` are `args`.
    pub fn exec(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// A Chrome DevTools command through chromedriver (emulation, for dark mode).
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
    }

    pub fn set_window(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    /// Saves a PNG of the whole page (not only the viewport, up to 8,000 px tall) under
    /// `target/console-screenshots/<name>.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let size = &self.cdp("Page.getLayoutMetrics", json!({}))["cssContentSize"];
        let width = size["width"].as_f64().unwrap_or(1280.0).ceil();
        let height = size["height"].as_f64().unwrap_or(900.0).ceil().min(8_000.0);
        let shot = self.cdp(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Polls `f` until it answers, or panics after `timeout` with `what` and the page's text.
    pub fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&Browser) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            if start.elapsed() > timeout {
                let body = self
                    .try_cmd("POST", "/execute/sync", Some(json!({"script": "return document.body ? document.body.innerText : ''", "args": []})))
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                panic!(
                    "timed out after {timeout:?} waiting for {what}; the page at {} says:\n{body}",
                    self.current_url()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Moves the performance log's network requests into [`Browser::requests`].
    pub fn collect_requests(&self) {
        let Ok(entries) = self.try_cmd("POST", "/se/log", Some(json!({"type": "performance"})))
        else {
            return;
        };
        let mut out = self.requests.lock().unwrap();
        for e in entries.as_array().into_iter().flatten() {
            let Some(Ok(m)) = e["message"].as_str().map(serde_json::from_str::<Value>) else {
                continue;
            };
            if m["message"]["method"] == "Network.requestWillBeSent" {
                if let Some(url) = m["message"]["params"]["request"]["url"].as_str() {
                    out.push(url.to_owned());
                }
            }
        }
    }

    /// Every URL the pages asked for so far.
    pub fn requests(&self) -> Vec<String> {
        self.collect_requests();
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = call(
            "DELETE",
            &format!("{}/session/{}", self.endpoint, self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
