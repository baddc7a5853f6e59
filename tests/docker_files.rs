//! The container files, checked without a Docker engine (none runs on the build machines):
//! the compose file parses and wires the stack as documented, and the image builds the way
//! the README says a host install does.

use yaml_rust2::{Yaml, YamlLoader};

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{}/{rel}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn key<'a>(y: &'a Yaml, k: &str) -> &'a Yaml {
    &y[k]
}

#[test]
fn compose_runs_postgres_redis_and_memlink_with_health_gates() {
    let docs = YamlLoader::load_from_str(&read("docker/compose.yml")).expect("compose.yml is YAML");
    let services = key(&docs[0], "services");
    for name in ["postgres", "redis", "memlink"] {
        assert!(!services[name].is_badvalue(), "service {name} missing");
        assert!(
            !services[name]["healthcheck"]["test"].is_badvalue(),
            "{name} has no healthcheck"
        );
    }
    // Redis keeps the stream across restarts.
    let redis_cmd: Vec<&str> = services["redis"]["command"]
        .as_vec()
        .expect("redis command")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(
        redis_cmd.windows(2).any(|w| w == ["--appendonly", "yes"]),
        "{redis_cmd:?}"
    );
    // memlink starts only once both dependencies are healthy.
    for dep in ["postgres", "redis"] {
        assert_eq!(
            services["memlink"]["depends_on"][dep]["condition"].as_str(),
            Some("service_healthy"),
            "{dep}"
        );
    }
    assert_eq!(
        services["memlink"]["build"]["dockerfile"].as_str(),
        Some("docker/Dockerfile")
    );
    let env = &services["memlink"]["environment"];
    assert!(env["DATABASE_URL"]
        .as_str()
        .is_some_and(|u| u.contains("@postgres:5432/")));
    assert_eq!(env["REDIS_URL"].as_str(), Some("redis://redis:6379"));
    // Published on loopback only: the admin endpoints are not for the whole network.
    let ports: Vec<&str> = services["memlink"]["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(
        ports.iter().all(|p| p.starts_with("127.0.0.1:")),
        "{ports:?}"
    );
}

#[test]
fn the_image_is_multi_stage_non_root_and_builds_like_the_readme() {
    let dockerfile = read("docker/Dockerfile");
    let readme = read("README.md");
    let froms = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(froms >= 2, "multi-stage: {froms} FROM lines");
    let build = "cargo build --release --locked --bin memlink";
    assert!(
        dockerfile.contains(build),
        "the image builds with `{build}`"
    );
    assert!(readme.contains(build), "the README installs with `{build}`");
    let user = dockerfile
        .lines()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(
        !user.contains("root") && !user.trim_end().ends_with(" 0"),
        "{user}"
    );
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/memlink\"]"));
    // Everything the build reads is copied in.
    for dir in ["actors/", "src/", "migrations/"] {
        assert!(
            dockerfile.contains(&format!("COPY {dir} {dir}")),
            "{dir} not copied"
        );
    }
}
