#!/usr/bin/env bash
# compose_check: the compose deployment (compose/), checked without a Docker
# engine (there is none on the development machine):
#  1. compose/bootstrap.sh, run without Docker (JC_BOOTSTRAP_LOCAL=1) on a
#     temporary copy of compose/ and this test's database: .env, secrets
#     (mode 0600), keys file, principals, worker and client configurations,
#     add-worker's docker-compose.override.yml;
#  2. Debian's docker-compose (1.29, `docker-compose config`) parses
#     docker-compose.yml (and the override) with .env.example as .env;
#     the result is checked: services, healthchecks, dependencies, users,
#     privileges, read-only secrets and mounts, no secret in the environment
#     or in the rendered file, loopback-only ports, Kafka settings, topics =
#     proto/include/jcproto/topics.h, pinned images, variables = .env.example;
#  3. compose/Dockerfile: stages, packages (build: scripts/bootstrap's; runtime:
#     the six libraries, which exist in Debian 12 and cover every library
#     the binaries load), COPY sources exist and pass .dockerignore, user,
#     EXPOSE, HEALTHCHECK, ENTRYPOINT; hadolint when installed;
#  4. the mounted configuration files are valid: jobcoord --check-config and
#     jobcoord-worker --check, with /run/secrets rewritten to the copy;
#  5. they work: the coordinator runs on the compose jobcoord.conf (database
#     and Kafka pointed at this test's), jobcoord-healthcheck answers as
#     Docker would read it, worker-1 and worker-2 run on their bootstrap-made
#     configurations and keys and come online, demo-client runs a job;
#  6. kafka-init.sh against a stub of Kafka's command-line tools.
# COMPOSE_CHECK_BUILD=1 also builds the Dockerfile's COPY set as its build
# stage does (Release, tests off) and installs it into a staging folder.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup compose_check
# the deployment brings its own keys file (bootstrap.sh, config/jobcoord.conf)
unset JOBCOORD_SECURITY_KEYS_FILE JOBCOORD_SECURITY_ENCRYPTION_KEY_ID

SRC=$JC_SOURCE_DIR
LIB=$T/compose_check_lib.py
WORKER=$BIN/worker-sdk/tools/jobcoord-worker
SUBMIT=$BIN/worker-sdk/tools/jobcoord-submit

# report FILE: counts the "ok - " / "not ok - " lines of FILE.
report() {
    local line
    while IFS= read -r line; do
        case "$line" in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) not_ok "${line#not ok - }" ;;
        *) echo "# $line" ;;
        esac
    done <"$1"
}

# write_lib writes the static checks (Python, over docker-compose config's
# YAML and the files around it) to $LIB.
write_lib() {
    cat >"$LIB" <<'PY'
#!/usr/bin/env python3
"""the static checks of tests/integration/compose_check.sh (written to $T by write_lib).

Reads the output of `docker-compose config` (the compose file as Compose
understands it, variables substituted) and the files around it, and prints
one TAP-like line per check: "ok - ..." or "not ok - ...".

    python3 LIB compose CONFIG.yml SRC TMPCOMPOSE [OVERRIDE_CONFIG.yml]
    python3 LIB dockerfile SRC
    python3 LIB dockerignore SRC PATH...   (prints "PATH included|excluded")
"""
import os
import re
import sys

import yaml

JOBCOORD_SERVICES_LONG_RUNNING = ["coordinator", "worker-1", "worker-2"]
REQUIRED_SERVICES = ["kafka", "kafka-init", "postgres", "coordinator", "worker-1", "worker-2"]
HEALTHCHECKED = ["kafka", "postgres", "coordinator"]
RUNTIME_PACKAGES = {"librdkafka1", "libpq5", "libmsgpackc2", "libsodium23", "libmicrohttpd12", "libconfig9",
                    "libcurl4", "libjansson4", "liboath0"}
# names of environment variables that hold no secret although they look so
ENV_NOT_SECRET = {"JOBCOORD_SECURITY_ENCRYPTION_KEY_ID"}
SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|PRIVATE|CREDENTIAL|(^|_)KEY$")
# files docker-compose.yml mounts that compose/bootstrap.sh writes (from a template in the repo)
GENERATED = {
    "config/worker-1.conf": "config/worker.conf.in",
    "config/worker-2.conf": "config/worker.conf.in",
    "config/demo-client.conf": "config/client.conf.in",
}

results = []


def check(what, cond, detail=""):
    results.append((bool(cond), what if cond or not detail else f"{what} ({detail})"))


def emit():
    for good, what in results:
        print(("ok - " if good else "not ok - ") + what)


# ---------------------------------------------------------------- compose


def volumes_of(svc):
    """(source, target, mode) of each volume entry, short or long syntax."""
    out = []
    for v in svc.get("volumes", []) or []:
        if isinstance(v, dict):
            out.append((v.get("source", ""), v.get("target", ""), "ro" if v.get("read_only") else "rw"))
            continue
        parts = v.split(":")
        src, tgt = parts[0], parts[1] if len(parts) > 1 else parts[0]
        mode = parts[2] if len(parts) > 2 else "rw"
        out.append((src, tgt, mode))
    return out


def ports_of(svc):
    out = []
    for p in svc.get("ports", []) or []:
        if isinstance(p, dict):
            out.append((p.get("host_ip", ""), str(p.get("published", "")), str(p.get("target", ""))))
        else:
            parts = str(p).split("/")[0].split(":")
            if len(parts) == 3:
                out.append((parts[0], parts[1], parts[2]))
            elif len(parts) == 2:
                out.append(("", parts[0], parts[1]))
            else:
                out.append(("", "", parts[0]))
    return out


def env_of(svc):
    env = svc.get("environment", {}) or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def uid_of(user):
    if user is None:
        return None
    u = str(user).split(":")[0]
    if u == "root":
        return 0
    return int(u) if u.isdigit() else -1  # a name: not root unless "root"


def normalized(svc, name):
    """svc as YAML text with the worker's own name replaced by NAME."""
    text = yaml.safe_dump(svc, sort_keys=True)
    return text.replace(name, "NAME")


def env_example_vars(path):
    names = []
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Z][A-Z0-9_]*)=", line)
            if m:
                names.append(m.group(1))
    return names


def read_secrets(secrets_dir):
    """Secret strings in the bootstrap-made secret files: whole lines and key values."""
    vals = set()
    if not os.path.isdir(secrets_dir):
        return vals
    for fn in os.listdir(secrets_dir):
        p = os.path.join(secrets_dir, fn)
        if not os.path.isfile(p):
            continue
        with open(p) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                for m in re.finditer(r'"xchacha20poly1305:([^"]+)"', line):
                    vals.add(m.group(1))
                if ":" in line and line.count(":") >= 4:  # pgpass: the password field
                    vals.add(line.split(":", 4)[4])
                if re.fullmatch(r"[A-Za-z0-9+/=]{16,}", line):
                    vals.add(line)
    return {v for v in vals if len(v) >= 16}


def check_compose(cfg_path, src, tmp_compose, override_path=None):
    with open(cfg_path) as f:
        text = f.read()
    cfg = yaml.safe_load(text)
    services = cfg.get("services", {})
    secrets_top = cfg.get("secrets", {}) or {}
    env_example = os.path.join(src, "compose", ".env.example")
    raw_path = os.path.join(src, "compose", "docker-compose.yml")
    with open(raw_path) as f:
        raw = f.read()
    env_defaults = {}
    with open(env_example) as f:
        for line in f:
            m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line.rstrip("\n"))
            if m:
                env_defaults[m.group(1)] = m.group(2)
    jobcoord_image = env_defaults.get("JOBCOORD_IMAGE", "")

    # -- services
    for s in REQUIRED_SERVICES:
        check(f"service {s} is defined", s in services)
    for s in HEALTHCHECKED:
        hc = services.get(s, {}).get("healthcheck", {}) or {}
        test = hc.get("test") or []
        check(f"service {s} has a healthcheck", test and test[0] != "NONE" and not hc.get("disable"))
    check("coordinator's healthcheck asks /readyz",
          "/readyz" in " ".join(services.get("coordinator", {}).get("healthcheck", {}).get("test", [])))
    check("postgres's healthcheck is pg_isready",
          "pg_isready" in " ".join(services.get("postgres", {}).get("healthcheck", {}).get("test", [])))
    check("kafka-init is a one-shot (restart no)", str(services.get("kafka-init", {}).get("restart")) == "no")
    for s in ["kafka", "postgres", "coordinator", "worker-1", "worker-2"]:
        check(f"service {s} restarts (unless-stopped or always)",
              services.get(s, {}).get("restart") in ("unless-stopped", "always"))

    # -- dependencies
    def cond(svc, dep):
        d = services.get(svc, {}).get("depends_on", {}) or {}
        if isinstance(d, list):
            return None
        return (d.get(dep) or {}).get("condition")

    check("kafka-init waits for kafka healthy", cond("kafka-init", "kafka") == "service_healthy")
    check("coordinator waits for postgres healthy", cond("coordinator", "postgres") == "service_healthy")
    check("coordinator waits for kafka-init to complete",
          cond("coordinator", "kafka-init") == "service_completed_successfully")
    for w in ["worker-1", "worker-2"]:
        check(f"{w} waits for kafka-init to complete",
              cond(w, "kafka-init") == "service_completed_successfully")

    # -- privileges and users
    for name, svc in services.items():
        check(f"{name}: not privileged", not svc.get("privileged"))
        check(f"{name}: no host network, pid or ipc namespace",
              all(svc.get(k) != "host" for k in ("network_mode", "pid", "ipc")))
        check(f"{name}: no added capabilities or devices", not svc.get("cap_add") and not svc.get("devices"))
        check(f"{name}: does not mount the Docker socket",
              not any("docker.sock" in src_ for src_, _, _ in volumes_of(svc)))
    jc = [n for n, s in services.items() if s.get("image") == jobcoord_image]
    check("the jobcoord image is used by coordinator, worker-1 and worker-2",
          all(s in jc for s in JOBCOORD_SERVICES_LONG_RUNNING), f"{jobcoord_image}: {jc}")
    for name in jc:
        svc = services[name]
        uid = uid_of(svc.get("user"))
        check(f"{name}: runs as a user that is not root", uid is not None and uid != 0, f"user {svc.get('user')}")
        check(f"{name}: read-only root file system", svc.get("read_only") is True)
        check(f"{name}: drops all capabilities", "ALL" in (svc.get("cap_drop") or []))
        check(f"{name}: no-new-privileges", any("no-new-privileges" in str(o) for o in svc.get("security_opt") or []))
        check(f"{name}: an init process reaps orphans", svc.get("init") is True)
        if not svc.get("build"):
            check(f"{name}: the locally built image is never pulled", svc.get("pull_policy") == "never")

    # -- secrets, mounts, environment
    secrets_dir = os.path.join(tmp_compose, "secrets")
    for sname, sdef in secrets_top.items():
        path = (sdef or {}).get("file", "")
        check(f"secret {sname} is a file in the secrets folder",
              os.path.dirname(os.path.abspath(path)) == os.path.abspath(secrets_dir), path)
    for name, svc in services.items():
        for sref in svc.get("secrets", []) or []:
            sname = sref if isinstance(sref, str) else sref.get("source")
            check(f"{name}: secret {sname} is declared", sname in secrets_top)
        for src_, tgt, mode in volumes_of(svc):
            if not src_.startswith("/"):
                continue  # a named volume
            check(f"{name}: bind mount {os.path.relpath(src_, tmp_compose)} -> {tgt} is read-only", mode == "ro")
            check(f"{name}: no secret is bind-mounted as a volume (secrets: only)",
                  not os.path.abspath(src_).startswith(os.path.abspath(secrets_dir)))
            rel = os.path.relpath(src_, tmp_compose)
            if rel in GENERATED:
                tmpl = os.path.join(src, "compose", GENERATED[rel])
                check(f"{name}: {rel} is made by bootstrap.sh from compose/{GENERATED[rel]}, which exists",
                      os.path.isfile(tmpl))
            else:
                real = os.path.join(src, "compose", rel)
                check(f"{name}: mounted file compose/{rel} exists in the repository", os.path.exists(real))
        for k, v in env_of(svc).items():
            if SECRET_NAME.search(k) and not k.endswith("_FILE") and k not in ENV_NOT_SECRET:
                check(f"{name}: environment variable {k} is not a secret", False, "use a *_FILE variable or a mounted file")
    for name in ["worker-1", "worker-2", "coordinator"]:
        check(f"{name}: its secrets are mounted (compose secrets are read-only)",
              len(services.get(name, {}).get("secrets", []) or []) > 0)
    check("postgres reads its password from a file (POSTGRES_PASSWORD_FILE)",
          env_of(services.get("postgres", {})).get("POSTGRES_PASSWORD_FILE", "").startswith("/run/secrets/")
          and "POSTGRES_PASSWORD" not in env_of(services.get("postgres", {})))
    leaked = [v for v in read_secrets(secrets_dir) if v in text]
    check("no secret value appears in the rendered compose configuration", not leaked and read_secrets(secrets_dir),
          f"{len(leaked)} found" if leaked else "no secrets to compare")

    # -- ports: published on the loopback address only, by default
    for name, svc in services.items():
        for host_ip, pub, tgt in ports_of(svc):
            check(f"{name}: port {tgt} is published on 127.0.0.1 only", host_ip == "127.0.0.1", f"host ip '{host_ip}'")
    check("coordinator publishes its HTTP port 8080",
          any(t == "8080" for _, _, t in ports_of(services.get("coordinator", {}))))

    # -- Kafka
    kenv = env_of(services.get("kafka", {}))
    check("kafka: KRaft, combined broker and controller",
          kenv.get("KAFKA_PROCESS_ROLES") in ("broker,controller", "controller,broker"))
    check("kafka: LogAppendTime is the broker's default timestamp type",
          kenv.get("KAFKA_LOG_MESSAGE_TIMESTAMP_TYPE") == "LogAppendTime")
    check("kafka: topics are not created automatically", kenv.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") == "false")
    check("kafka: advertises kafka:9092 on the compose network",
          "PLAINTEXT://kafka:9092" in kenv.get("KAFKA_ADVERTISED_LISTENERS", ""))
    check("kafka: data on a named volume",
          any(not s.startswith("/") and t == kenv.get("KAFKA_LOG_DIRS") for s, t, _ in volumes_of(services.get("kafka", {}))))
    check("postgres: data on a named volume",
          any(not s.startswith("/") and t == "/var/lib/postgresql/data" for s, t, _ in volumes_of(services.get("postgres", {}))))

    # -- images pinned
    for name, svc in services.items():
        img = svc.get("image", "")
        tag = img.rsplit(":", 1)[1] if ":" in img.split("/")[-1] else ""
        check(f"{name}: image {img} has a pinned tag", tag and tag != "latest" and re.search(r"\d", tag))

    # -- variables: used <-> documented
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", raw))
    documented = set(env_example_vars(env_example))
    check("every variable of docker-compose.yml is in .env.example", used <= documented, ", ".join(sorted(used - documented)))
    unused = documented - used - {"COMPOSE_PROJECT_NAME"}
    check("every variable of .env.example is used by docker-compose.yml", not unused, ", ".join(sorted(unused)))

    # -- the two workers are the same service but for their name
    if "worker-1" in services and "worker-2" in services:
        check("worker-1 and worker-2 differ only by their name",
              normalized(services["worker-1"], "worker-1") == normalized(services["worker-2"], "worker-2"))
    if override_path:
        with open(override_path) as f:
            ocfg = yaml.safe_load(f)
        osv = ocfg.get("services", {})
        check("bootstrap.sh add-worker: worker-3 is a service", "worker-3" in osv)
        if "worker-3" in osv and "worker-2" in osv:
            check("bootstrap.sh add-worker: worker-3 is defined exactly like worker-2",
                  normalized(osv["worker-3"], "worker-3") == normalized(osv["worker-2"], "worker-2"))
        check("bootstrap.sh add-worker: worker-3's key is a declared secret",
              "worker-3.key" in (ocfg.get("secrets") or {}))

    # -- build: context and Dockerfile exist in the repository
    build = services.get("coordinator", {}).get("build", {}) or {}
    ctx = build.get("context", "")
    tmp_root = os.path.dirname(os.path.abspath(tmp_compose))
    rel_ctx = os.path.relpath(ctx, tmp_root) if ctx else None
    check("coordinator is built from the repository root", rel_ctx == ".", f"context {rel_ctx}")
    dockerfile = build.get("dockerfile", "")
    check(f"the build's Dockerfile {dockerfile} exists in the repository",
          dockerfile and os.path.isfile(os.path.join(src, dockerfile)))


def check_topics(src):
    with open(os.path.join(src, "proto", "include", "jcproto", "topics.h")) as f:
        want = set(re.findall(r'#define JC_TOPIC_[A-Z_]+ "([a-z-]+)"', f.read()))
    with open(os.path.join(src, "compose", "kafka-init.sh")) as f:
        text = f.read()
    block = re.search(r'TOPICS="\n(.*?)"\n', text, re.S)
    have = set(line.split()[0] for line in block.group(1).splitlines() if line.strip()) if block else set()
    check("kafka-init creates exactly the topics of proto/include/jcproto/topics.h", want and want == have,
          f"topics.h {sorted(want)}, kafka-init {sorted(have)}")


# ---------------------------------------------------------------- .dockerignore


def _pattern_regex(pat):
    """Docker's .dockerignore pattern (filepath.Match plus **) as a regex."""
    out, i = "", 0
    while i < len(pat):
        c = pat[i]
        if c == "*":
            if pat[i:i + 2] == "**":
                out += ".*"
                i += 2
                if pat[i:i + 1] == "/":
                    i += 1
                continue
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        else:
            out += re.escape(c)
        i += 1
    return re.compile("^" + out + "$")


def dockerignore_rules(src):
    rules = []
    path = os.path.join(src, ".dockerignore")
    if not os.path.exists(path):
        return rules
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            pat = os.path.normpath(line[1:] if neg else line).lstrip("/")
            rules.append((neg, _pattern_regex(pat)))
    return rules


def excluded(rules, path):
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    path = os.path.normpath(path)
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    state = False
    for neg, rx in rules:
        if any(rx.match(c) for c in candidates):
            state = not neg
    return state


# ---------------------------------------------------------------- Dockerfile


def dockerfile_instructions(path):
    lines, cur = [], ""
    with open(path) as f:
        for raw in f:
            s = raw.rstrip("\n")
            if not cur and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if s.lstrip().startswith("#"):
                continue
            if s.endswith("\\"):
                cur += s[:-1] + " "
                continue
            cur += s
            lines.append(cur.strip())
            cur = ""
    if cur:
        lines.append(cur.strip())
    return [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]


def apt_packages(run_args):
    m = re.search(r"apt-get install ([^&;]*)", run_args)
    if not m:
        return set()
    return {w for w in m.group(1).split() if not w.startswith("-")}


def bootstrap_build_packages(src):
    with open(os.path.join(src, "scripts", "bootstrap")) as f:
        text = f.read()
    m = re.search(r"^PACKAGES=\((.*?)\)", text, re.S | re.M)
    words = m.group(1).split() if m else []
    return {w for w in words if w in ("build-essential", "cmake", "pkg-config") or w.endswith("-dev")}


def check_dockerfile(src):
    path = os.path.join(src, "compose", "Dockerfile")
    ins = dockerfile_instructions(path)
    args = {}
    stages = []
    for op, rest in ins:
        if op == "ARG" and "=" in rest and not stages:
            k, v = rest.split("=", 1)
            args[k.strip()] = v.strip()
        if op == "FROM":
            stages.append({"from": rest, "ops": []})
        elif stages:
            stages[-1]["ops"].append((op, rest))
    check("the Dockerfile has two stages (build, runtime)", len(stages) == 2, f"{len(stages)} stages")
    if len(stages) != 2:
        return
    for st in stages:
        image = st["from"].split()[0]
        for k, v in args.items():
            image = image.replace("${" + k + "}", v)
        check(f"base image {image} is pinned Debian 12",
              re.fullmatch(r"debian:12\.\d+(-slim)?", image) is not None)
    check("the runtime stage is debian slim", stages[1]["from"].split()[0].endswith("-slim"))
    build_ops, run_ops = stages[0]["ops"], stages[1]["ops"]
    build_pkgs = set().union(*[apt_packages(r) for o, r in build_ops if o == "RUN"])
    want = bootstrap_build_packages(src)
    check("the build stage installs the build packages of scripts/bootstrap", want and want <= build_pkgs,
          f"missing {sorted(want - build_pkgs)}")
    run_pkgs = set().union(*[apt_packages(r) for o, r in run_ops if o == "RUN"])
    check("the runtime stage installs exactly the runtime libraries", run_pkgs == RUNTIME_PACKAGES,
          f"{sorted(run_pkgs)}")
    cm = " ".join(r for o, r in build_ops if o == "RUN")
    check("cmake -DCMAKE_BUILD_TYPE=Release -DJC_BUILD_TESTS=OFF",
          "-DCMAKE_BUILD_TYPE=Release" in cm and "-DJC_BUILD_TESTS=OFF" in cm)
    with open(os.path.join(src, "CMakeLists.txt")) as f:
        check("JC_BUILD_TESTS is an option of CMakeLists.txt", re.search(r"option\(JC_BUILD_TESTS\b", f.read()))
    check("the build stage installs with cmake --install", "cmake --install" in cm)
    # every folder the top CMakeLists.txt builds (tests aside: JC_BUILD_TESTS=OFF)
    copied = set()
    for op, rest in build_ops:
        if op in ("COPY", "ADD") and "--from" not in rest:
            copied.update(w.rstrip("/") for w in rest.split()[:-1] if not w.startswith("--"))
    with open(os.path.join(src, "CMakeLists.txt")) as f:
        subdirs = re.findall(r"^\s*add_subdirectory\(([\w./-]+)\)", f.read(), re.M)
    for d in subdirs:
        if d.split("/")[0] != "tests":
            check(f"the build stage copies {d}/, which CMakeLists.txt builds", d.split("/")[0] in copied)
    rules = dockerignore_rules(src)
    for st_ops in (build_ops, run_ops):
        for op, rest in st_ops:
            if op not in ("COPY", "ADD"):
                continue
            words = [w for w in rest.split() if not w.startswith("--")]
            if any(w.startswith("--from") for w in rest.split()):
                continue
            for s in words[:-1]:
                p = os.path.join(src, s)
                check(f"COPY source {s} exists in the repository", os.path.exists(p))
                check(f"COPY source {s} is not excluded by .dockerignore", not excluded(rules, s))
                if os.path.isdir(p):
                    for dirpath, _, files in os.walk(p):
                        if "node_modules" in dirpath:
                            continue
                        for fn in files:
                            relp = os.path.relpath(os.path.join(dirpath, fn), src)
                            if excluded(rules, relp) and not fn.endswith((".key", ".bootstrap")):
                                check(f"{relp} (under COPY source {s}) reaches the build", False)
    for secret_path in [".git/config", ".run/pg/PG_VERSION", "build/CMakeCache.txt", "compose/.env",
                        "compose/secrets/pgpass", "compose/secrets/worker-1.key", "tests/js/node_modules/x"]:
        check(f".dockerignore keeps {secret_path} out of the build context", excluded(rules, secret_path))
    users = [r for o, r in run_ops if o == "USER"]
    check("the runtime stage ends as a user that is not root",
          users and users[-1].split(":")[0] not in ("root", "0"), f"USER {users[-1] if users else None}")
    check("the runtime stage creates the user with uid 10001", any("--uid 10001" in r for o, r in run_ops if o == "RUN"))
    check("EXPOSE 8080", any(o == "EXPOSE" and "8080" in r.split() for o, r in run_ops))
    check("a HEALTHCHECK", any(o == "HEALTHCHECK" for o, r in run_ops))
    ep = [r for o, r in run_ops if o == "ENTRYPOINT"]
    check("ENTRYPOINT is the coordinator", ep and re.search(r'/jobcoord"', ep[-1]), ep[-1] if ep else "none")
    check("no configuration or secret is copied into the image",
          not any(o in ("COPY", "ADD") and re.search(r"secrets|\.env|jobcoord\.conf\b|keys\.conf\b", r)
                  for o, r in run_ops + build_ops))


def main():
    mode = sys.argv[1]
    if mode == "compose":
        check_compose(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
        check_topics(sys.argv[3])
    elif mode == "dockerfile":
        check_dockerfile(sys.argv[2])
    elif mode == "dockerignore":
        rules = dockerignore_rules(sys.argv[2])
        for p in sys.argv[3:]:
            print(p, "excluded" if excluded(rules, p) else "included")
        return
    emit()


if __name__ == "__main__":
    main()
PY
}
write_lib

# --- 0. tools ---------------------------------------------------------------
if ! command -v docker-compose >/dev/null 2>&1; then
    not_ok "docker-compose is installed (Debian package docker-compose; scripts/bootstrap --test installs it)"
    jc_done
fi
ok "docker-compose is installed: $(docker-compose version --short 2>/dev/null)"
python3 -c 'import yaml' 2>/dev/null || {
    not_ok "python3-yaml is installed (a dependency of docker-compose)"
    jc_done
}

# --- 1. bootstrap.sh without Docker, on a copy ------------------------------
R=$T/repo
C=$R/compose
mkdir -p "$R"
# what a checkout of the repository has, not what a local deployment made
# (whose secrets this user may not even be able to read)
(cd "$SRC" && tar -cf - --exclude=compose/secrets --exclude=compose/.env \
    --exclude=compose/docker-compose.override.yml --exclude=compose/config/extra-workers compose) |
    tar -xf - -C "$R"
find "$C/config" -name '*.conf' ! -name jobcoord.conf -delete
export JC_BOOTSTRAP_LOCAL=1 JC_BOOTSTRAP_ADMIN=$ADMIN
"$C/bootstrap.sh" >"$T/bootstrap.out" 2>&1
rc=$?
check_eq "bootstrap.sh (without Docker) exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/bootstrap.out"
check "bootstrap.sh made .env from .env.example" test -f "$C/.env"
kid=$(sed -n 's/^JOBCOORD_ENCRYPTION_KEY_ID=//p' "$C/.env")
check "bootstrap.sh recorded the keys file's key id in .env" grep -q "^    $kid = \"xchacha20poly1305:" "$C/secrets/keys.conf"
cid=$(sed -n 's/^KAFKA_CLUSTER_ID=//p' "$C/.env")
check "bootstrap.sh made a new KAFKA_CLUSTER_ID (22 base64url characters)" \
    bash -c "[[ '$cid' =~ ^[A-Za-z0-9_-]{22}\$ ]] && ! grep -q '=$cid\$' '$SRC/compose/.env.example'"
check_eq "the secrets folder is mode 700" 700 "$(stat -c %a "$C/secrets")"
for f in postgres_password pgpass keys.conf worker-1.key worker-2.key demo-client.key; do
    check_eq "secrets/$f exists with mode 600" 600 "$(stat -c %a "$C/secrets/$f" 2>/dev/null)"
done
pw=$(cat "$C/secrets/postgres_password")
check "pgpass carries the same password as postgres_password" grep -qx "\*:\*:\*:jobcoord:$pw" "$C/secrets/pgpass"
check "the database password is long and random" bash -c "[ ${#pw} -ge 32 ]"
for p in worker-1:worker worker-2:worker demo-client:client; do
    name=${p%%:*}
    role=${p##*:}
    check_eq "principal $name exists with role $role" "$role" "$(sql "SELECT role FROM principals WHERE id = '$name'")"
    check "config/$name.conf names $name and its current key id" \
        grep -qx "key.id = $(sql "SELECT key_id FROM principal_keys WHERE principal_id = '$name' AND valid_until IS NULL ORDER BY created_at DESC LIMIT 1")" "$C/config/$name.conf"
done
check_eq "the principals' keys are sealed with the keys file's key" 3 \
    "$(sql "SELECT count(*) FROM principal_keys WHERE enc_key_id = '$kid' AND principal_id IN ('worker-1', 'worker-2', 'demo-client')")"
check_eq "secrets/admin_password exists with mode 600, for the operator" 600 "$(stat -c %a "$C/secrets/admin_password" 2>/dev/null)"
check_eq "the dashboard's admin exists with a password" "admin|t" \
    "$(sql "SELECT role, password_hash IS NOT NULL FROM principals WHERE id = 'admin'")"
"$C/bootstrap.sh" >"$T/bootstrap2.out" 2>&1
check_eq "bootstrap.sh run again exits 0" 0 $?
check "and keeps what exists" grep -q "worker-1: principal, key and config/worker-1.conf exist (kept)" "$T/bootstrap2.out"
k1=$(cat "$C/secrets/worker-1.key")
rm "$C/secrets/worker-1.key"
"$C/bootstrap.sh" >"$T/bootstrap3.out" 2>&1
check_eq "bootstrap.sh with a key file removed exits 0" 0 $?
check "and rotates that principal's key" bash -c "[ -s '$C/secrets/worker-1.key' ] && [ \"\$(cat '$C/secrets/worker-1.key')\" != '$k1' ]"
cp -a "$C" "$T/compose-plain" # before add-worker: docker-compose.yml alone
"$C/bootstrap.sh" add-worker worker-3 >"$T/add.out" 2>&1
check_eq "bootstrap.sh add-worker worker-3 exits 0" 0 $?
check "add-worker wrote docker-compose.override.yml" test -s "$C/docker-compose.override.yml"
check_eq "add-worker made the principal worker-3" worker "$(sql "SELECT role FROM principals WHERE id = 'worker-3'")"
cp "$C/config/worker-3.conf" "$T/worker-3.before"
"$C/bootstrap.sh" configs >"$T/configs.out" 2>&1
check_eq "bootstrap.sh configs exits 0" 0 $?
check "and writes the same configurations again (current key ids)" cmp -s "$T/worker-3.before" "$C/config/worker-3.conf"
"$C/bootstrap.sh" add-worker worker-1 >/dev/null 2>&1
check_eq "add-worker refuses a name docker-compose.yml already has" 1 $?
"$C/bootstrap.sh" render "$C/config/worker.conf.in" 'no/slash' k1 >/dev/null 2>&1
check_eq "render refuses an invalid principal id" 1 $?
unset JC_BOOTSTRAP_LOCAL JC_BOOTSTRAP_ADMIN

# --- 2. docker-compose config -------------------------------------------------
P=$T/compose-plain
cp "$SRC/compose/.env.example" "$P/.env" # the defaults, as a fresh checkout has them
(cd "$P" && docker-compose config) >"$T/config.yml" 2>"$T/config.err"
rc=$?
check_eq "docker-compose config parses docker-compose.yml with .env.example" 0 "$rc"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/config.err"
check "docker-compose config says nothing on stderr (no unset variable, no warning)" test ! -s "$T/config.err"
(cd "$P" && docker-compose config --services) >"$T/services" 2>/dev/null
check "docker-compose config --services lists kafka, kafka-init, postgres, coordinator, worker-1, worker-2" \
    bash -c "for s in kafka kafka-init postgres coordinator worker-1 worker-2; do grep -qx \$s '$T/services' || exit 1; done"
(cd "$C" && docker-compose config) >"$T/config-override.yml" 2>"$T/config-override.err"
check_eq "docker-compose config parses it with add-worker's override" 0 $?
python3 "$LIB" compose "$T/config.yml" "$SRC" "$P" "$T/config-override.yml" >"$T/compose.checks" 2>&1
report "$T/compose.checks"

# --- 3. Dockerfile -------------------------------------------------------------
python3 "$LIB" dockerfile "$SRC" >"$T/dockerfile.checks" 2>&1
report "$T/dockerfile.checks"
for p in librdkafka1 libpq5 libmsgpackc2 libsodium23 libmicrohttpd12 libconfig9 libcurl4 libjansson4 liboath0; do
    check "runtime package $p exists in Debian 12 (apt-cache show)" bash -c "apt-cache show $p 2>/dev/null | grep -q '^Package: $p\$'"
done
# every library the binaries load comes from those packages (or libc)
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances librdkafka1 libpq5 libmsgpackc2 libsodium23 libmicrohttpd12 libconfig9 libcurl4 libjansson4 liboath0 \
    2>/dev/null | grep -v '^ ' | sort -u)
missing=
for f in "$BIN/coordinator/jobcoord" "$BIN/coordinator/jobcoord-admin" "$WORKER" "$SUBMIT"; do
    for lib in $(ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do
        case "$lib" in "$BIN"/*) continue ;; esac
        pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null)
        pkg=${pkg%%:*}
        [ -n "$pkg" ] || continue
        # a sanitizer build (build-san) also loads the sanitizers' runtimes
        case "$pkg" in libasan* | libubsan* | liblsan* | libtsan* | libstdc++*) continue ;; esac
        grep -qx "$pkg" <<<"$closure" || missing="$missing $(basename "$f"):$lib($pkg)"
    done
done
check "every shared library of jobcoord, jobcoord-admin, jobcoord-worker and jobcoord-submit is in the runtime packages' closure${missing:+:$missing}" test -z "$missing"
if command -v hadolint >/dev/null 2>&1; then
    hadolint "$SRC/compose/Dockerfile" >"$T/hadolint.out" 2>&1
    check_eq "hadolint compose/Dockerfile" 0 $?
    sed 's/^/# /' "$T/hadolint.out"
else
    echo "# hadolint is not installed (not packaged in Debian 12): skipped"
fi
for s in compose/bootstrap.sh compose/kafka-init.sh compose/healthcheck.sh; do
    check "$s is executable" test -x "$SRC/$s"
done
check "kafka-init.sh is POSIX sh (the Kafka image has no bash guarantee)" sh -n "$SRC/compose/kafka-init.sh"
if command -v shellcheck >/dev/null 2>&1; then
    shellcheck -s sh "$SRC/compose/kafka-init.sh" >"$T/sc.out" 2>&1 &&
        shellcheck "$SRC/compose/bootstrap.sh" "$SRC/compose/healthcheck.sh" >>"$T/sc.out" 2>&1
    check_eq "shellcheck compose/*.sh" 0 $?
    sed 's/^/# /' "$T/sc.out"
fi

# --- 4. the mounted configuration files are valid ---------------------------
sed "s|/run/secrets/|$C/secrets/|g" "$C/config/jobcoord.conf" >"$T/jobcoord.conf"
export JOBCOORD_SECURITY_ENCRYPTION_KEY_ID=$kid
out=$("$BIN/coordinator/jobcoord" --check-config --config "$T/jobcoord.conf" 2>&1)
check_eq "jobcoord --check-config accepts compose/config/jobcoord.conf ($out)" 0 $?
out=$(JOBCOORD_SECURITY_ENCRYPTION_KEY_ID='' "$BIN/coordinator/jobcoord" --check-config --config "$T/jobcoord.conf" 2>&1)
check_eq "and refuses it without JOBCOORD_SECURITY_ENCRYPTION_KEY_ID (exit 100)" 100 $?
for w in worker-1 worker-2 worker-3; do
    sed "s|/run/secrets/worker.key|$C/secrets/$w.key|" "$C/config/$w.conf" >"$T/$w.conf"
    "$WORKER" --config "$T/$w.conf" --check >"$T/$w.check" 2>&1
    check_eq "jobcoord-worker --check accepts config/$w.conf" 0 $?
done
check "its job types are echo, exit and sleep" bash -c "[ \"\$(cut -d: -f1 '$T/worker-1.check' | tr '\n' ' ')\" = 'echo exit sleep ' ]"
check "every worker configuration reads its key from /run/secrets/worker.key" \
    bash -c "grep -qx 'key.file = /run/secrets/worker.key' '$C/config/worker-1.conf' && grep -qx 'key.file = /run/secrets/worker.key' '$C/config/worker-3.conf'"
check "the coordinator and the workers use the compose network's Kafka listener (kafka:9092)" \
    bash -c "grep -q 'brokers = \"kafka:9092\"' '$C/config/jobcoord.conf' && grep -qx 'kafka.bootstrap.servers = kafka:9092' '$C/config/worker-1.conf'"

# --- 5. they work: coordinator, healthcheck, worker, a job --------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HC=$SRC/compose/healthcheck.sh
"$HC" "127.0.0.1:$PORT" >/dev/null 2>&1
check_eq "jobcoord-healthcheck fails when nothing listens" 1 $?
start_mock_kafka 4
# compose's jobcoord.conf; the database and Kafka of this test override its
# host names (JOBCOORD_DATABASE_CONNINFO, JOBCOORD_KAFKA_BROKERS)
start_coordinator -c "$T/jobcoord.conf" --set "http.listen=127.0.0.1:$PORT"
check "the coordinator runs on compose/config/jobcoord.conf" kill -0 "$COORD_PID"
check "it logs JSON (log.format)" grep -q '^{.*"msg"' "$T/coordinator.log"
wait_for 20 "readyz" "$HC" "127.0.0.1:$PORT"
check "jobcoord-healthcheck passes once the coordinator is ready (GET /readyz: 200)" "$HC" "127.0.0.1:$PORT"
check "jobcoord-healthcheck /healthz passes" "$HC" "127.0.0.1:$PORT" /healthz
"$HC" "127.0.0.1:$PORT" /no-such-route >/dev/null 2>&1
check_eq "jobcoord-healthcheck fails on a status other than 200" 1 $?
check_eq "the admin logs in with the password bootstrap.sh wrote" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode grant_type=password --data-urlencode username=admin \
        --data-urlencode "password=$(cat "$C/secrets/admin_password")" "http://127.0.0.1:$PORT/v1/token")"
for w in worker-1 worker-2; do
    sed -i "s|^kafka.bootstrap.servers = .*|kafka.bootstrap.servers = $JOBCOORD_KAFKA_BROKERS|" "$T/$w.conf"
    jc_bg "$T/$w.log" "$WORKER" --config "$T/$w.conf" --grace-ms 1000
done
wait_for 30 "worker-1 and worker-2 online" sql_is 2 "SELECT count(*) FROM workers WHERE status = 'online' AND id IN ('worker-1', 'worker-2')"
check_eq "worker-1 and worker-2 come online with bootstrap.sh's configurations and keys" 2 \
    "$(sql "SELECT count(*) FROM workers WHERE status = 'online' AND id IN ('worker-1', 'worker-2')")"
sed -e "s|/run/secrets/client.key|$C/secrets/demo-client.key|" \
    -e "s|^kafka.bootstrap.servers = .*|kafka.bootstrap.servers = $JOBCOORD_KAFKA_BROKERS|" \
    "$C/config/demo-client.conf" >"$T/client.conf"
out=$("$SUBMIT" --config "$T/client.conf" --type echo --arg hello --arg compose --wait --wait-timeout-ms 30000 2>>"$T/submit.log")
check_eq "demo-client runs an echo job on the workers (jobcoord-submit --wait)" 0 $?
check "and gets its result" grep -q '^result  *hello compose\\n$' <<<"$out"
check_eq "no message was rejected" 0 "$(sql "SELECT count(*) FROM rejections")"
check "compose/config/jobcoord.conf does not allow plain-text secrets" \
    bash -c "! grep -q '^[^#]*allow_plaintext' '$C/config/jobcoord.conf'"
check_eq "every secret the deployment stored is sealed with the keys file (no plain text)" "0 0 0" \
    "$(sql "SELECT (SELECT count(*) FROM principal_keys WHERE enc_key_id IS DISTINCT FROM '$kid'), (SELECT count(*) FROM signing_keys WHERE enc_key_id IS DISTINCT FROM '$kid'), (SELECT count(*) FROM principals WHERE totp_secret IS NOT NULL AND totp_enc_key_id IS DISTINCT FROM '$kid')" | tr '|' ' ')"
check "the coordinator did not warn about plain text" bash -c "! grep -q 'plain text' '$T/coordinator.log'"

# --- 6. kafka-init.sh against stubs of Kafka's tools -------------------------
KB=$T/kafka-bin
KS=$T/kafka-state
mkdir -p "$KB" "$KS"
printf '#!/bin/sh\nexit 0\n' >"$KB/kafka-broker-api-versions.sh"
# kafka-topics.sh: --list, --create (state: $KS/<topic> = "partitions configs"), --describe
cat >"$KB/kafka-topics.sh" <<'STUB'
#!/bin/sh
S=${KAFKA_STUB_STATE:?}
op= topic= parts= configs=
while [ $# -gt 0 ]; do
    case $1 in
    --list | --create | --describe) op=$1 ;;
    --topic) topic=$2; shift ;;
    --partitions) parts=$2; shift ;;
    --config) configs="${configs:+$configs,}$2"; shift ;;
    esac
    shift
done
echo "$op $topic" >>"$S/.calls"
case $op in
--list) ls "$S" ;;
--create) [ "$topic" = "${KAFKA_STUB_DROP_CREATE:-}" ] || echo "$parts $configs" >"$S/$topic" ;;
--describe)
    for f in "$S"/*; do
        t=$(basename "$f")
        echo "$t" | grep -q "^$topic\$" || continue
        read -r p c <"$f"
        printf 'Topic: %s\tTopicId: x\tPartitionCount: %s\tReplicationFactor: 1\tConfigs: %s\n' "$t" "$p" "$c"
        printf '\tTopic: %s\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\n' "$t"
    done ;;
esac
STUB
cat >"$KB/kafka-configs.sh" <<'STUB'
#!/bin/sh
S=${KAFKA_STUB_STATE:?}
while [ $# -gt 0 ]; do
    case $1 in
    --entity-name) topic=$2; shift ;;
    --add-config) add=$2; shift ;;
    esac
    shift
done
echo "--alter $topic" >>"$S/.calls"
read -r p c <"$S/$topic"
[ -n "${KAFKA_STUB_IGNORE_ALTER:-}" ] || echo "$p $add" >"$S/$topic"
STUB
chmod +x "$KB"/*.sh
kinit() { KAFKA_BIN=$KB KAFKA_STUB_STATE=$KS sh "$SRC/compose/kafka-init.sh" >"$T/kinit.out" 2>&1; }
kinit
check_eq "kafka-init.sh creates the topics (exit 0)" 0 $?
check_eq "8 topics" 8 "$(find "$KS" -type f ! -name .calls | wc -l)"
check "each with message.timestamp.type=LogAppendTime" bash -c "! grep -L 'message.timestamp.type=LogAppendTime' '$KS'/* | grep -q ."
check_eq "jobcoord.heartbeats has 8 partitions" 8 "$(cut -d' ' -f1 "$KS/jobcoord.heartbeats")"
check_eq "jobcoord.rejected has 1" 1 "$(cut -d' ' -f1 "$KS/jobcoord.rejected")"
rm "$KS/.calls"
echo "2 retention.ms=1" >"$KS/jobcoord.commands" # older, smaller and without the setting
kinit
check_eq "kafka-init.sh run again exits 0" 0 $?
check "and creates nothing, but sets LogAppendTime on existing topics" \
    bash -c "! grep -q -- --create '$KS/.calls' && grep -q 'message.timestamp.type=LogAppendTime' '$KS/jobcoord.commands'"
check "it reports a topic with fewer partitions than configured" grep -q "WARNING: jobcoord.commands has 2 partitions, 8 configured" "$T/kinit.out"
echo "8 retention.ms=1" >"$KS/jobcoord.job-events"
KAFKA_STUB_IGNORE_ALTER=1 kinit
check_eq "kafka-init.sh fails when a topic does not get LogAppendTime" 1 $?
rm "$KS/jobcoord.job-updates"
KAFKA_STUB_DROP_CREATE=jobcoord.job-updates kinit
check_eq "and when a topic is missing after it" 1 $?
check "naming it" grep -q "ERROR: jobcoord.job-updates is missing" "$T/kinit.out"

# --- optional: the Dockerfile's build stage, without Docker -------------------
if [ "${COMPOSE_CHECK_BUILD:-0}" = 1 ]; then
    B=$T/docker-build
    mkdir -p "$B/src"
    (cd "$SRC" && cp -a CMakeLists.txt cmake worker-sdk coordinator schemas bench config "$B/src/")
    (cd "$B/src" && cmake -S . -B "$B/build" -DCMAKE_BUILD_TYPE=Release -DJC_BUILD_TESTS=OFF \
        -DCMAKE_INSTALL_PREFIX=/usr/local >"$B/cmake.log" 2>&1 &&
        cmake --build "$B/build" -j"$(nproc)" >"$B/build.log" 2>&1 &&
        DESTDIR=$B/staging cmake --install "$B/build" >"$B/install.log" 2>&1)
    rc=$?
    check_eq "the Dockerfile's build stage (Release, JC_BUILD_TESTS=OFF) builds and installs its COPY set" 0 $rc
    [ $rc -eq 0 ] || grep -m5 'error' "$B/build.log" | sed 's/^/# /'
fi
jc_done
