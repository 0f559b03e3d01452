#!/usr/bin/env python3
"""Static checks of the Containerfile (no container engine needed; none can run here).

  check_image.py SWITCHYARD_BIN [--json OUT]
      every COPY source exists in the build context and no file tracked by git is left out of it
      by .dockerignore; the build stage is Debian 12 running scripts/install-deps.sh and CMake;
      the runtime stage is debian:12-slim and its apt packages (plus what debian:12-slim has)
      provide every library `ldd SWITCHYARD_BIN` lists (each mapped to its package by dpkg -S);
      USER is a fixed non-root UID that the stage creates; ENTRYPOINT/CMD run the copied binary
      with the copied config; data_dir is the VOLUME, the listen port is EXPOSEd.
      --json writes what podsim.py needs to run the binary as the image would.

Exit 0 = fine, 1 = problems (printed), 2 = usage.
"""

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CONTAINERFILE = ROOT / "Containerfile"


# ---- Containerfile -------------------------------------------------------------------------

def instructions(text):
    """(INSTRUCTION, argument text) with continuation lines joined and comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    if current:
        raise ValueError("Containerfile ends inside a continued line")
    return out


def stages(text):
    """[{name, base, instructions}] in order."""
    result = []
    for ins, arg in instructions(text):
        if ins == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", arg, re.I)
            if not m:
                raise ValueError(f"FROM {arg}: cannot read it")
            result.append({"base": m.group(1), "name": m.group(2) or str(len(result)), "ins": []})
        elif not result:
            if ins != "ARG":
                raise ValueError(f"{ins} before the first FROM")
        else:
            result[-1]["ins"].append((ins, arg))
    return result


def exec_form(arg, what):
    try:
        value = json.loads(arg)
    except json.JSONDecodeError:
        raise ValueError(f"{what} must be in exec form (a JSON array): {arg}")
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ValueError(f"{what} must be a JSON array of strings: {arg}")
    return value


def copy_args(arg):
    """COPY [--from=X] [--chown=..] [--chmod=..] SRC... DEST → (options, sources, dest)."""
    words = json.loads(arg) if arg.startswith("[") else shlex.split(arg)
    opts = {}
    while words and words[0].startswith("--"):
        k, _, v = words.pop(0)[2:].partition("=")
        opts[k] = v
    if len(words) < 2:
        raise ValueError(f"COPY {arg}: needs a source and a destination")
    return opts, words[:-1], words[-1]


def apt_packages(run):
    """Packages of `apt-get install` in a RUN's shell text (options skipped)."""
    pkgs = []
    for command in re.split(r"&&|;|\|\|", run):
        words = shlex.split(command)
        if len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words:
            pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


# ---- .dockerignore -----------------------------------------------------------------------------

def ignore_patterns():
    path = ROOT / ".dockerignore"
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]


def ignored(rel, patterns):
    """Docker's rules, the subset this repository uses: a pattern matches the path or one of its
    parent directories; `**/` matches any number of directories; `!` re-includes."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat[1:] if neg else pat
        pat = pat.strip("/")
        hit = False
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pat):
                hit = True
            elif pat.startswith("**/") and any(fnmatch.fnmatchcase("/".join(prefix.split("/")[i:]),
                                                                   pat[3:])
                                               for i in range(len(prefix.split("/")))):
                hit = True
        if hit:
            result = not neg
    return result


# ---- libraries → Debian packages ---------------------------------------------------------------

def ldd_libraries(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        line = line.strip()
        if "=>" in line:
            name, _, rest = line.partition("=>")
            path = rest.strip().split(" (")[0]
            if path == "not found":
                raise ValueError(f"ldd: {name.strip()} not found")
            libs.append(path)
        elif line.startswith("/"):
            libs.append(line.split(" (")[0])  # the dynamic loader
    return libs


def spellings(path):
    """PATH as ldd prints it, resolved, and usr-merged (/lib ↔ /usr/lib): dpkg knows one of them."""
    p = Path(path)
    out = [str(p), str(p.resolve())]
    for c in list(out):
        if c.startswith("/usr/lib/"):
            out.append(c[4:])
        elif c.startswith("/lib"):
            out.append("/usr" + c)
    return list(dict.fromkeys(out))


def dpkg_owners(paths):
    """{path: package owning it} with one dpkg-query call (each call reads every file list)."""
    wanted = {s: p for p in paths for s in spellings(p)}
    r = subprocess.run(["dpkg-query", "-S", *wanted], capture_output=True, text=True)
    owners = {}
    for line in r.stdout.splitlines():
        pkgs, _, file = line.partition(": ")
        if file in wanted and ", " not in pkgs:  # "a, b: /dir" lines are shared directories
            owners.setdefault(wanted[file], pkgs.split(":")[0].strip())
    missing = [p for p in paths if p not in owners]
    if missing:
        raise ValueError(f"dpkg -S: no package owns {missing}")
    return owners


def apt_candidates(pkgs):
    """{package: candidate version or None} from one `apt-cache policy` call."""
    r = subprocess.run(["apt-cache", "policy", *pkgs], capture_output=True, text=True)
    out, current = {}, None
    for line in r.stdout.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
            out[current] = None
        elif current and line.strip().startswith("Candidate:"):
            v = line.split(":", 1)[1].strip()
            out[current] = None if v == "(none)" else v
    return out


def installed_depends():
    """{package: set of packages it Depends / Pre-Depends on} from the dpkg database."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${Essential}\t${Depends}\t${Pre-Depends}\n"],
        capture_output=True, text=True, check=True).stdout
    deps, essential = {}, set()
    for line in out.splitlines():
        pkg, ess, dep, pre = (line.split("\t") + ["", "", ""])[:4]
        names = set()
        for clause in (dep + "," + pre).split(","):
            # "a (>= 1) | b" → a (the first alternative; the installed one in practice)
            alt = clause.split("|")[0].strip()
            if alt:
                names.add(alt.split()[0].split(":")[0])
        deps[pkg] = names
        if ess == "yes":
            essential.add(pkg)
    return deps, essential


def closure(roots, deps):
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo += deps.get(p, ())
    return seen


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--json"):
        print(__doc__, file=sys.stderr)
        return 2
    binary = argv[1]
    problems, passed = [], 0

    def check(ok, message):
        nonlocal passed
        if ok:
            passed += 1
        else:
            problems.append(message)
        return ok

    all_stages = stages(CONTAINERFILE.read_text())
    check(len(all_stages) >= 2, "not a multi-stage build")
    build, runtime = all_stages[0], all_stages[-1]
    check(re.fullmatch(r"(docker\.io/)?(library/)?debian:12(\.\d+)?", build["base"]) is not None,
          f"build stage FROM {build['base']}: expected Debian 12")
    check(re.fullmatch(r"(docker\.io/)?(library/)?debian:12(\.\d+)?-slim", runtime["base"]) is not None,
          f"runtime stage FROM {runtime['base']}: expected debian:12-slim")
    build_runs = " && ".join(a for i, a in build["ins"] if i == "RUN")
    check("./scripts/install-deps.sh build" in build_runs,
          "the build stage does not run ./scripts/install-deps.sh build")
    check(re.search(r"\bcmake --build\b.*--target switchyard", build_runs) is not None,
          "the build stage does not build the switchyard target with cmake")

    # -- COPY sources, the build context
    patterns = ignore_patterns()
    names = {s["name"] for s in all_stages}
    copies = []
    for st in all_stages:
        for ins, arg in st["ins"]:
            if ins == "ADD":
                problems.append(f"ADD {arg}: use COPY (ADD fetches URLs and unpacks archives)")
            if ins != "COPY":
                continue
            opts, sources, dest = copy_args(arg)
            copies.append((st["name"], opts, sources, dest))
            if "from" in opts:
                check(opts["from"] in names, f"COPY --from={opts['from']}: no such stage")
                continue
            for src in sources:
                path = ROOT / src
                check(path.exists(), f"COPY {src}: not in the build context")
                if src not in (".", "./"):
                    check(not ignored(src.strip("/"), patterns),
                          f"COPY {src}: excluded by .dockerignore")
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True,
                             check=True).stdout.split()
    left_out = [f for f in tracked if ignored(f, patterns)]
    check(not left_out, f".dockerignore leaves out tracked files: {left_out[:5]}")
    for must in (".git/HEAD", "build/CMakeCache.txt", "tests/deploy/node_modules/yaml/package.json"):
        check(ignored(must, patterns), f".dockerignore lets {must} into the build context")

    # -- runtime packages cover ldd
    listed = []
    for ins, arg in runtime["ins"]:
        if ins == "RUN":
            listed += apt_packages(arg)
    deps, essential = installed_depends()
    base = closure(essential | {"apt"}, deps)   # debian:12-slim = Essential packages + apt
    provided = closure(set(listed), deps) | base
    needed = {}
    libs = ldd_libraries(binary)
    owners = dpkg_owners(libs)
    for lib in libs:
        pkg = owners[lib]
        needed.setdefault(pkg, []).append(Path(lib).name)
        check(pkg in provided, f"{Path(lib).name} comes from {pkg}, which the runtime stage lacks")
    candidates = apt_candidates(listed)
    for pkg in listed:
        check(candidates.get(pkg) is not None, f"runtime package {pkg} is unknown to apt")
    unused = [p for p in listed if p not in needed and p != "ca-certificates"]
    check("ca-certificates" in listed, "no ca-certificates: TLS to the upstreams would fail")

    # -- user, entrypoint, config, volume, port
    final = dict()
    for ins, arg in runtime["ins"]:
        final.setdefault(ins, []).append(arg)
    user = final.get("USER", ["root"])[-1]
    m = re.fullmatch(r"(\d+)(?::(\d+))?", user)
    check(m is not None, f"USER {user}: use a numeric UID[:GID] (runAsNonRoot can verify it)")
    uid, gid = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (0, 0)
    check(uid != 0, "USER is root")
    runs = " && ".join(final.get("RUN", []))
    check(re.search(rf"useradd\b[^&;]*--uid {uid}\b", runs) is not None,
          f"USER {uid}: the stage creates no user with that UID (useradd --uid)")
    check(re.search(rf"groupadd\b[^&;]*--gid {gid}\b", runs) is not None,
          f"USER {uid}:{gid}: the stage creates no group with that GID")
    entrypoint = exec_form(final["ENTRYPOINT"][-1], "ENTRYPOINT")
    cmd = exec_form(final.get("CMD", ["[]"])[-1], "CMD")
    dests = {}
    for st_name, opts, sources, dest in copies:
        if st_name == runtime["name"]:
            for src in sources:
                target = dest if not dest.endswith("/") else dest + Path(src).name
                dests[target] = (opts, src)
    check(entrypoint[0] in dests and "from" in dests[entrypoint[0]][0],
          f"ENTRYPOINT {entrypoint[0]} is not the binary copied from the build stage")
    config_path = cmd[cmd.index("--config") + 1] if "--config" in cmd else None
    check(config_path in dests, f"CMD --config {config_path}: no config is copied there")
    opts, config_src = dests.get(config_path, ({}, None))
    mode = int(opts.get("chmod", "644"), 8)
    check(mode & 0o222 == 0, f"the config is copied writable (--chmod={opts.get('chmod')})")
    check(opts.get("chown", "root").split(":")[0] in ("root", "0"),
          "the config belongs to the gateway's user: it could rewrite it")
    config = yaml.safe_load((ROOT / config_src).read_text()) if config_src else {}
    volumes = []
    for v in final.get("VOLUME", []):
        volumes += exec_form(v, "VOLUME") if v.startswith("[") else v.split()
    check(config.get("data_dir") in volumes, f"data_dir {config.get('data_dir')} is not a VOLUME {volumes}")
    check(not any(str(Path(config_path)).startswith(v + "/") for v in volumes),
          "the config is inside a volume")
    port = int(str(config.get("listen", ":8080")).rpartition(":")[2])
    exposed = [int(p.split("/")[0]) for e in final.get("EXPOSE", []) for p in e.split()]
    check(port in exposed, f"the config listens on {port}; EXPOSE {exposed}")
    workdir = final.get("WORKDIR", ["/"])[-1]

    for p in problems:
        print(f"Containerfile: {p}")
    for pkg, libs in sorted(needed.items()):
        print(f"   {pkg}: {', '.join(libs)}")
    if unused:
        print(f"note: runtime packages the binary does not link (yet): {', '.join(unused)}")
    print(f"Containerfile: {passed} checks passed, {len(problems)} failed")
    if len(argv) == 4:
        Path(argv[3]).write_text(json.dumps({
            "entrypoint": entrypoint, "cmd": cmd, "uid": uid, "gid": gid, "workdir": workdir,
            "config_path": config_path, "config_source": str(ROOT / config_src) if config_src else None,
            "config_mode": mode, "volumes": volumes, "listen_port": port,
            "drain": config.get("timeouts", {}).get("drain", "30s"),
        }, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
