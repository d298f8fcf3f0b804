//! The init system's services as [`crate::services`] last read them:
//! `node_systemd_unit_state` and `node_systemd_units` with node_exporter's
//! names, labels and default unit exclusions (systemd only), and the
//! `sysmon_service*` families for all three inits. Nothing when services
//! are not watched. Writes into the caller's buffer; allocates nothing.

use std::fmt::Write;

use super::{escaped, family};
use crate::services::{Services, State};

pub fn write(out: &mut String, services: &Services) {
    let snap = services.snapshot();
    let Some(init) = snap.init else {
        return;
    };
    let init = init.name();
    if init == "systemd" {
        family(out, "node_systemd_unit_state", "gauge", "Systemd unit");
        for unit in services.all().iter().filter(|u| u.exported) {
            for state in State::ALL {
                out.push_str("node_systemd_unit_state{name=\"");
                escaped(out, &unit.name);
                let _ = write!(out, "\",state=\"{}\",type=\"", state.name());
                escaped(out, &unit.kind);
                let _ = writeln!(out, "\"}} {}", u8::from(unit.state == Some(state)));
            }
        }
        family(
            out,
            "node_systemd_units",
            "gauge",
            "Summary of systemd unit states",
        );
        for state in State::ALL {
            let n = services
                .all()
                .iter()
                .filter(|u| u.state == Some(state))
                .count();
            let _ = writeln!(out, "node_systemd_units{{state=\"{}\"}} {n}", state.name());
        }
    }
    family(
        out,
        "sysmon_service_up",
        "gauge",
        "1 while the service is active (running, started, up), 0 otherwise.",
    );
    for s in services.all().iter().filter(|s| s.listed) {
        let _ = write!(out, "sysmon_service_up{{init=\"{init}\",name=\"");
        escaped(out, &s.name);
        let _ = writeln!(out, "\"}} {}", u8::from(s.state == Some(State::Active)));
    }
    family(
        out,
        "sysmon_service_failed",
        "gauge",
        "1 while the service has failed (crashed, down, restarting) and services_ignore does not match it.",
    );
    for s in services.all().iter().filter(|s| s.listed) {
        let _ = write!(out, "sysmon_service_failed{{init=\"{init}\",name=\"");
        escaped(out, &s.name);
        let _ = writeln!(out, "\"}} {}", u8::from(s.failed()));
    }
    family(
        out,
        "sysmon_services",
        "gauge",
        "Services listed per state (systemd: .service units and failed units).",
    );
    for state in State::ALL {
        let _ = writeln!(
            out,
            "sysmon_services{{init=\"{init}\",state=\"{}\"}} {}",
            state.name(),
            snap.counts[state as usize]
        );
    }
    family(
        out,
        "sysmon_services_failed",
        "gauge",
        "Services failed, services_ignore not counted: what alert_service_failed fires on.",
    );
    let _ = writeln!(
        out,
        "sysmon_services_failed{{init=\"{init}\"}} {}",
        snap.failed
    );
    family(
        out,
        "sysmon_services_read_error",
        "gauge",
        "1 when the last read of the services failed (see /data.json services.error).",
    );
    let _ = writeln!(
        out,
        "sysmon_services_read_error{{init=\"{init}\"}} {}",
        u8::from(snap.has_error)
    );
    if let Some(at) = snap.polled_at {
        family(
            out,
            "sysmon_services_last_read_timestamp_seconds",
            "gauge",
            "Unix time of the last successful read of the services.",
        );
        let _ = writeln!(
            out,
            "sysmon_services_last_read_timestamp_seconds{{init=\"{init}\"}} {at}"
        );
    }
}
