//! Each script run as sysmon runs it (`/bin/sh -c`, the SYSMON_* variables,
//! a cleared environment but PATH), with messages holding quotes,
//! backslashes, newlines, a tab, a control character, non-ASCII text and a
//! leading `@`.
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::time::Duration;

use miniserde::json::{Number, Value};

use crate::common::*;
use crate::{Receiver, script};

const HOSTILE: &str = "@disk \"/srv\" at 97% \\ C:\\temp\nSubject: injected\n\tand a tab \u{1} é ✓";

/// Runs `command` through `/bin/sh -c` with the alert's variables.
fn alert_command(command: &str, alert: &str, state: &str, message: &str, path: &str) -> Output {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .env_clear()
        .env("PATH", path)
        .env("SYSMON_ALERT", alert)
        .env("SYSMON_ALERT_STATE", state)
        .env("SYSMON_ALERT_VALUE", "97")
        .env("SYSMON_ALERT_THRESHOLD", "90.5")
        .env("SYSMON_ALERT_MESSAGE", message)
        .env("SYSMON_HOSTNAME", "box-1");
    run(cmd)
}

fn system_path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
}

fn json_field<'a>(v: &'a Value, key: &str) -> &'a Value {
    field(v, &[key]).unwrap_or_else(|| panic!("no {key} in {v:?}"))
}

fn json_text(v: &Value, key: &str) -> String {
    text(v, &[key]).unwrap_or_else(|| panic!("{key} is not a string in {v:?}"))
}

fn json_number(v: &Value, key: &str) -> f64 {
    match json_field(v, key) {
        Value::Number(Number::U64(n)) => *n as f64,
        Value::Number(Number::I64(n)) => *n as f64,
        Value::Number(Number::F64(n)) => *n,
        other => panic!("{key} is not a number: {other:?}"),
    }
}

#[test]
fn scripts_are_executable_and_shellcheck_clean() {
    for name in ["ntfy", "webhook", "sendmail"] {
        let mode = std::fs::metadata(script(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{name} is not executable");
    }
    if !have_tool("shellcheck", "checking init/alert/* with shellcheck -s sh") {
        return;
    }
    let mut cmd = Command::new("shellcheck");
    cmd.args(["-s", "sh"])
        .args(["ntfy", "webhook", "sendmail"].map(script));
    assert!(run(cmd).status.success());
}

#[test]
fn webhook_posts_the_alert_as_json_with_the_message_escaped() {
    if !have_tool("curl", "the webhook script posts with curl") {
        return;
    }
    let receiver = Receiver::start();
    let command = format!(
        "WEBHOOK_URL=http://{}/hooks/sysmon WEBHOOK_HEADER='Authorization: Bearer s3cret' {}",
        receiver.addr,
        script("webhook").display()
    );
    for (alert, state) in [("disk:/srv", "firing"), ("disk:/srv", "resolved")] {
        let out = alert_command(&command, alert, state, HOSTILE, &system_path());
        assert!(out.status.success());
        let request = receiver.next(Duration::from_secs(10)).expect("no request");
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/hooks/sysmon")
        );
        assert_eq!(
            request.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
        assert_eq!(
            request.headers.get("authorization").map(String::as_str),
            Some("Bearer s3cret")
        );
        let body = String::from_utf8(request.body).unwrap();
        let json: Value =
            miniserde::json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
        assert_eq!(json_text(&json, "alert"), alert);
        assert_eq!(json_text(&json, "state"), state);
        assert_eq!(json_text(&json, "message"), HOSTILE, "{body}");
        assert_eq!(json_text(&json, "hostname"), "box-1");
        assert_eq!(json_number(&json, "value"), 97.0);
        assert_eq!(json_number(&json, "threshold"), 90.5);
        assert!(json_number(&json, "time") > 1.7e9);
        assert_eq!(
            json_text(&json, "text"),
            format!("[box-1] {alert} {state}: {HOSTILE}")
        );
    }
    // No threshold (an alert removed from the configuration): null, not "".
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(&command)
        .env_clear()
        .env("PATH", system_path())
        .env("SYSMON_ALERT", "cpu")
        .env("SYSMON_ALERT_STATE", "resolved")
        .env("SYSMON_ALERT_VALUE", "12")
        .env("SYSMON_ALERT_THRESHOLD", "")
        .env("SYSMON_ALERT_MESSAGE", "m")
        .env("SYSMON_HOSTNAME", "h");
    assert!(run(cmd).status.success());
    let request = receiver.next(Duration::from_secs(10)).expect("no request");
    let json: Value = miniserde::json::from_str(&String::from_utf8(request.body).unwrap()).unwrap();
    assert!(matches!(json_field(&json, "threshold"), Value::Null));
}

#[test]
fn ntfy_publishes_the_message_to_the_topic() {
    if !have_tool("curl", "the ntfy script posts with curl") {
        return;
    }
    let receiver = Receiver::start();
    let command = format!(
        "NTFY_URL=http://{} NTFY_TOPIC=box-alerts NTFY_TOKEN=tk_123 {}",
        receiver.addr,
        script("ntfy").display()
    );
    let alert = "disk:/mnt/a\nX-Injected: 1";
    let out = alert_command(&command, alert, "firing", HOSTILE, &system_path());
    assert!(out.status.success());
    let request = receiver.next(Duration::from_secs(10)).expect("no request");
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/box-alerts")
    );
    // The body is the message byte for byte: the leading @ names no file.
    assert_eq!(String::from_utf8(request.body).unwrap(), HOSTILE);
    let h = |k: &str| request.headers.get(k).cloned().unwrap_or_default();
    assert_eq!(h("title"), "[box-1] disk:/mnt/a X-Injected: 1 firing");
    assert!(
        !request.headers.contains_key("x-injected"),
        "{:?}",
        request.headers
    );
    assert_eq!(
        (h("priority").as_str(), h("tags").as_str()),
        ("high", "warning")
    );
    assert_eq!(h("authorization"), "Bearer tk_123");

    let out = alert_command(&command, "cpu", "resolved", "CPU at 3%", &system_path());
    assert!(out.status.success());
    let request = receiver.next(Duration::from_secs(10)).expect("no request");
    assert_eq!(
        request.headers.get("title").unwrap(),
        "[box-1] cpu resolved"
    );
    assert_eq!(request.headers.get("priority").unwrap(), "default");

    // Without a topic: a clear error, exit 2, nothing sent.
    let out = alert_command(
        &script("ntfy").display().to_string(),
        "cpu",
        "firing",
        "m",
        &system_path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NTFY_TOPIC"));
    assert!(receiver.next(Duration::from_millis(300)).is_none());
}

#[test]
fn sendmail_mails_the_alert_with_one_line_headers() {
    let dir = TempDir::new("alert-sendmail");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("sendmail");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {d}/args\ncat > {d}/mail\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), system_path());
    let command = format!(
        "MAIL_TO='ops@example.com root' MAIL_FROM='sysmon@box-1' {}",
        script("sendmail").display()
    );
    let out = alert_command(&command, "disk:/srv", "firing", HOSTILE, &path);
    assert!(out.status.success());
    let args = std::fs::read_to_string(dir.join("args")).unwrap();
    assert_eq!(args, "-i\n--\nops@example.com\nroot\n");
    let mail = std::fs::read_to_string(dir.join("mail")).unwrap();
    let (head, body) = mail
        .split_once("\n\n")
        .expect("headers, a blank line, a body");
    let headers: Vec<&str> = head.lines().collect();
    let subject_line = format!(
        "Subject: [box-1] disk:/srv firing: {}",
        HOSTILE.replace('\n', " ")
    );
    for want in [
        "From: sysmon@box-1",
        "To: ops@example.com, root",
        subject_line.as_str(),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
        "Auto-Submitted: auto-generated",
    ] {
        assert!(headers.contains(&want), "no {want:?} in\n{head}");
    }
    assert!(headers.iter().any(|h| h.starts_with("Date: ")), "{head}");
    // The newline in the message added no header.
    assert_eq!(headers.len(), 8, "{head}");
    assert!(!headers.iter().any(|h| h.starts_with("Subject: injected")));
    assert!(body.starts_with(&format!("{HOSTILE}\n\n")), "{body}");
    for want in [
        "Alert:     disk:/srv\n",
        "State:     firing\n",
        "Value:     97\n",
        "Threshold: 90.5\n",
        "Host:      box-1\n",
    ] {
        assert!(body.contains(want), "no {want:?} in\n{body}");
    }
}
