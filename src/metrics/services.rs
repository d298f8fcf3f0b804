//! The init system's services as [`crate::services`] last read them:
//! `node_systemd_unit_state` and `node_systemd_units` with node_exporter's
//! names, labels and default unit exclusions (systemd only), and the
//! `sysmon_service*` families for all three inits. Nothing when services
//! are not watched. Writes into the caller's buffer; allocates nothing.

use std::fmt::Write;

use super::{Body, escaped};
use crate::services::{Services, State};

pub fn write(out: &mut Body, services: &Services) {
    let snap = services.snapshot();
    let Some(init) = snap.init else {
        return;
    };
    let init = init.name();
    if init == "systemd" {
        out.push_str(family_lines!(
            "node_systemd_unit_state",
            "gauge",
            "Systemd unit"
        ));
        for unit in services.all().iter().filter(|u| u.exported) {
            for state in State::ALL {
                out.push_str("node_systemd_unit_state{name=\"");
                escaped(out, &unit.name);
                let _ = write!(out, "\",state=\"{}\",type=\"", state.name());
                escaped(out, &unit.kind);
                let _ = writeln!(out, "\"}} {}", u8::from(unit.state == Some(state)));
            }
        }
        out.push_str(family_lines!(
            "node_systemd_units",
            "gauge",
            "Summary of systemd unit states"
        ));
        for state in State::ALL {
            let n = services
                .all()
                .iter()
                .filter(|u| u.state == Some(state))
                .count();
            let _ = writeln!(out, "node_systemd_units{{state=\"{}\"}} {n}", state.name());
        }
    }
    out.push_str(family_lines!(
        "sysmon_service_up",
        "gauge",
        "1 while the service is active (running, started, up), 0 otherwise."
    ));
    for s in services.all().iter().filter(|s| s.listed) {
        let _ = write!(out, "sysmon_service_up{{init=\"{init}\",name=\"");
        escaped(out, &s.name);
        let _ = writeln!(out, "\"}} {}", u8::from(s.state == Some(State::Active)));
    }
    out.push_str(family_lines!("sysmon_service_failed", "gauge", "1 while the service has failed (crashed, down, restarting) and services_ignore does not match it."));
    for s in services.all().iter().filter(|s| s.listed) {
        let _ = write!(out, "sysmon_service_failed{{init=\"{init}\",name=\"");
        escaped(out, &s.name);
        let _ = writeln!(out, "\"}} {}", u8::from(s.failed()));
    }
    out.push_str(family_lines!(
        "sysmon_services",
        "gauge",
        "Services listed per state (systemd: .service units and failed units)."
    ));
    for state in State::ALL {
        let _ = writeln!(
            out,
            "sysmon_services{{init=\"{init}\",state=\"{}\"}} {}",
            state.name(),
            snap.counts[state as usize]
        );
    }
    out.push_str(family_lines!(
        "sysmon_services_failed",
        "gauge",
        "Services failed, services_ignore not counted: what alert_service_failed fires on."
    ));
    let _ = writeln!(
        out,
        "sysmon_services_failed{{init=\"{init}\"}} {}",
        snap.failed
    );
    out.push_str(family_lines!(
        "sysmon_services_read_error",
        "gauge",
        "1 when the last read of the services failed (see /data.json services.error)."
    ));
    let _ = writeln!(
        out,
        "sysmon_services_read_error{{init=\"{init}\"}} {}",
        u8::from(snap.has_error)
    );
    if let Some(at) = snap.polled_at {
        out.push_str(family_lines!(
            "sysmon_services_last_read_timestamp_seconds",
            "gauge",
            "Unix time of the last successful read of the services."
        ));
        let _ = writeln!(
            out,
            "sysmon_services_last_read_timestamp_seconds{{init=\"{init}\"}} {at}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ServiceInit, ServicesConfig};
    use std::path::Path;
    use std::time::{Duration, Instant};

    /// The whole systemd path without a systemd: a shim `systemctl` prints
    /// the capture made in the nspawn container (tests/fixtures/services);
    /// the job runs it as its child, parses it, and /metrics shows it as
    /// node_exporter would.
    #[test]
    fn systemd_units_from_a_systemctl_child_as_node_exporter_shows_them() {
        let dir =
            std::env::temp_dir().join(format!("sysmon-systemctl-shim-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/services/systemd/show-failed.txt");
        let shim = dir.join("systemctl");
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\n[ \"$1 $2 $5 $6\" = 'show --no-pager --state=active,reloading,inactive,failed,activating,deactivating *' ] || exit 9\nexec cat '{}'\n",
                capture.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let config = ServicesConfig {
            init: ServiceInit::Systemd,
            every: Duration::from_secs(30),
            ignore: vec!["nothing*".into()],
            runit_dir: None,
        };
        let t0 = Instant::now();
        let mut services = Services::new(&config, Path::new("/proc"), t0).with_systemctl(&shim);
        assert!(!services.poll(t0, 1_796_200_000), "the child only started");
        assert!(services.child_pid().is_some());
        let deadline = Instant::now() + Duration::from_secs(10);
        while services.child_pid().is_some() {
            assert!(Instant::now() < deadline, "the shim never finished");
            std::thread::sleep(Duration::from_millis(5));
            services.poll(Instant::now(), 1_796_200_000);
        }
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(services.error(), None);
        let snap = services.snapshot();
        assert_eq!((snap.failed, services.all().len()), (1, 139));
        assert_eq!(services.failed_names(), "broken.service");
        let broken = services.failed().next().unwrap();
        assert!(broken.since.is_some_and(|t| t <= 1_796_200_000));

        let mut body = Body::with_capacity(0);
        write(&mut body, &services);
        let out = body.as_str().to_string();
        for line in [
            "node_systemd_unit_state{name=\"broken.service\",state=\"failed\",type=\"oneshot\"} 1",
            "node_systemd_unit_state{name=\"broken.service\",state=\"inactive\",type=\"oneshot\"} 0",
            "node_systemd_unit_state{name=\"healthy.service\",state=\"active\",type=\"simple\"} 1",
            "node_systemd_unit_state{name=\"multi-user.target\",state=\"active\",type=\"\"} 1",
            "node_systemd_units{state=\"failed\"} 1",
            "node_systemd_units{state=\"inactive\"} 78",
            "sysmon_service_up{init=\"systemd\",name=\"healthy.service\"} 1",
            "sysmon_service_failed{init=\"systemd\",name=\"broken.service\"} 1",
            "sysmon_services_failed{init=\"systemd\"} 1",
            "sysmon_services_read_error{init=\"systemd\"} 0",
        ] {
            assert!(out.contains(&format!("\n{line}\n")), "no {line} in:\n{out}");
        }
        // node_exporter's default exclusions: no mount, device, slice, scope.
        assert!(!out.contains("name=\"home.mount\""), "{out}");
        let exported = services.all().iter().filter(|u| u.exported).count();
        let series = out
            .lines()
            .filter(|l| l.starts_with("node_systemd_unit_state{"))
            .count();
        assert_eq!(series, 5 * exported);
        // Warm: the same render again is the same length, in place.
        let len = body.len();
        body.clear();
        write(&mut body, &services);
        assert_eq!(body.as_str(), out);
        assert_eq!(body.len(), len);
    }
}
