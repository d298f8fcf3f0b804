//! End to end: the real daemon on a fixture /proc fires `cpu` (`alert_cpu =
//! 0% for 0s` holds at the first sample) and `init/alert/webhook`, as its
//! `alert_command`, delivers it.
use std::time::Duration;

use miniserde::json::Value;

use crate::common::*;
use crate::{Receiver, script};

#[test]
fn the_daemon_fires_an_alert_and_the_webhook_script_delivers_it() {
    if !have_tool("curl", "the webhook script posts with curl") {
        return;
    }
    let receiver = Receiver::start();
    let dir = TempDir::new("alert-webhook-e2e");
    let daemon = Daemon::on_fixture(
        &dir,
        &format!(
            "alert_cpu = 0% for 0s\nalert_command = WEBHOOK_URL=http://{}/sysmon {}",
            receiver.addr,
            script("webhook").display()
        ),
    );
    let request = receiver
        .next(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("nothing delivered\n{}", daemon.dump()));
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/sysmon")
    );
    let body = String::from_utf8(request.body).unwrap();
    let json: Value = miniserde::json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let data = daemon.data();
    assert_eq!(text(&json, &["alert"]).as_deref(), Some("cpu"), "{body}");
    assert_eq!(text(&json, &["state"]).as_deref(), Some("firing"));
    assert_eq!(text(&json, &["hostname"]), text(&data, &["hostname"]));
    let message = text(&json, &["message"]).unwrap();
    assert!(
        message.starts_with("CPU at ") && message.ends_with("(alert at 0%)"),
        "{message}"
    );
    // The same alert /data.json lists as firing.
    let listed = match field(&data, &["alerts"]) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|a| text(a, &["name"]))
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(listed, ["cpu"]);
    assert_eq!(
        daemon.logged("alert_command for cpu ended with"),
        0,
        "{}",
        daemon.dump()
    );
}
