#!/usr/bin/env bash
# Benchmark of image sizes (recorded, not a timed test), written to bench/results/images.md
# and images.json:
# - the run image: its size (goal ≤ 130 MB), its base's, and every Debian package in it with
#   its installed size and why it is there (asked for by builder/images/run/Dockerfile, a
#   dependency of those, or Debian's essential set, which dpkg and blacklodge/apt count on);
# - the app images of the Procfile app (bench/apps/flask-numpy-pandas, pip) and the wrapped
#   function (examples/wrapped-function), ours (pack, the bench's builder) against the
#   multi-stage Dockerfile of bench/benchmarks/images/Dockerfile on the same run image
#   (goal ≤ 1.0×), with each image's layers.
#
#   bench/benchmarks/images.sh
#
# Knobs: BENCH_RUN_IMAGE (the run image to measure and build on; default the stack's), RESULTS
# (the page; the results file goes next to it).
# Sizes are uncompressed bytes as Docker counts them (`docker image inspect .Size`), in MB
# (10^6 bytes). Needs the bench (bench/setup); uses $BLACKLODGE_BUILDER.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$BENCH_DIR/benchmarks/images/common.sh"
bench_begin BENCH_RUN_IMAGE BLACKLODGE_BUILDER

RESULTS="${RESULTS:-$BENCH_DIR/results/images.md}"
WORK="$(mktemp -d)"
PREFIX="blacklodge-bench-images-$$"
cleanup() {
  rm -rf "$WORK"
  remove_images "$PREFIX"
}
trap cleanup EXIT
docker_ok || die "no Docker daemon" "the benchmark builds images" "run bench/setup first"

step "Run image $BENCH_RUN: packages"
docker run --rm --network none --entrypoint dpkg-query "$BENCH_RUN" \
  -W -f '${Package}\t${Installed-Size}\t${Priority}\t${Essential}\t${Pre-Depends}, ${Depends}\n' >"$WORK/packages.tsv"
docker run --rm --network none --user 0 --entrypoint sh "$BENCH_RUN" -c \
  'du -sk --one-file-system /usr/lib /usr/bin /usr/sbin /usr/share /usr/libexec /usr/local /etc /var /home 2>/dev/null' >"$WORK/dirs.tsv"

for name in "${APP_NAMES[@]}"; do
  step "App $name: multi-stage Dockerfile, then pack build"
  build_dockerfile "$name" "$PREFIX-dockerfile-$name" "$WORK/dockerfile-$name.log"
  build_ours "$name" "$PREFIX-ours-$name" "$WORK/ours-$name.log"
  for kind in dockerfile ours; do
    image="$PREFIX-$kind-$name"
    echo "$name $kind $(image_mb "$image")" >>"$WORK/sizes.txt"
    docker history --no-trunc --format '{{.Size}}\t{{.CreatedBy}}' "$image" >"$WORK/layers-$kind-$name.tsv"
  done
done

PYTHONPATH="$BENCH_DIR/benchmarks" python3 - "$WORK" "$RESULTS" "$BENCH_RUN" "$(image_mb "$BENCH_RUN")" "$BASE_IMAGE" "$(image_mb "$BASE_IMAGE")" \
  "$REPO_DIR/builder/images/run/Dockerfile" <<'PY'
import pathlib, re, sys
import results

work, out, run_image, run_mb, base_image, base_mb, dockerfile = sys.argv[1:8]
work = pathlib.Path(work)
run_mb, base_mb = float(run_mb), float(base_mb)

# What the run image's Dockerfile asks apt for (the package names of its install line).
text = pathlib.Path(dockerfile).read_text().replace("\\\n", " ")
asked = set(re.search(r"--no-install-recommends\s+([^;]+);", text).group(1).split())
packages = {}
for line in (work / "packages.tsv").read_text().splitlines():
    name, size, priority, essential, depends = line.split("\t")
    deps = {re.split(r"[\s:(]", d.strip())[0] for part in depends.split(",") for d in part.split("|") if d.strip()}
    packages[name] = {"kb": int(size or 0), "priority": priority, "essential": essential == "yes", "deps": deps}
needed_by = {name: sorted(other for other, p in packages.items() if name in p["deps"]) for name in packages}
def why(name):
    p = packages[name]
    if name in asked:
        return "asked for (runtime library or data for CPython and wheels)"
    if p["essential"]:
        return "Debian essential"
    users = needed_by[name]
    if users:
        return "needed by " + ", ".join(users[:4]) + (f" and {len(users) - 4} more" if len(users) > 4 else "")
    return f"priority {p['priority']} (debootstrap's minbase)"

sizes = {}
for line in (work / "sizes.txt").read_text().splitlines():
    name, kind, mb = line.split()
    sizes[(name, kind)] = float(mb)
apps = {"procfile": "Procfile app (bench/apps/flask-numpy-pandas, pip)",
        "function": "wrapped function (examples/wrapped-function)"}
rows = [results.row("run image", "MB", f"its base {base_image}: {base_mb:.1f} MB", [run_mb], "<= 130")]
for name, label in apps.items():
    ours, theirs = sizes[(name, "ours")], sizes[(name, "dockerfile")]
    rows.append(results.row(f"app image, {label}: ours / multi-stage Dockerfile", "ratio",
                            f"multi-stage Dockerfile image: {theirs:.1f} MB", [ours / theirs], "<= 1.0"))
    rows.append(results.row(f"app image, {label}: ours", "MB", "–", [ours]))
results.write("images", rows, pathlib.Path(out).parent)
meta = results.document("images", rows)

def layers(kind, name):
    lines = ["| size | layer |", "| ---: | --- |"]
    for line in (work / f"layers-{kind}-{name}.tsv").read_text().splitlines():
        size, created = line.split("\t", 1)
        if size in ("0B", "0"):
            continue
        created = re.sub(r"^/bin/sh -c #\(nop\)\s*", "", created)
        created = created.replace("|", "\\|")
        lines.append(f"| {size} | `{created[:110]}` |")
    return "\n".join(lines)

total_kb = sum(p["kb"] for p in packages.values())
reading = results.kept_reading(out)
with open(out, "w") as f:
    f.write("# Image sizes\n\n")
    f.write(f"Recorded {meta['date']} by `{meta['command']}` (load average before: {meta['load_before']}). "
            "Sizes are uncompressed, as `docker image inspect` counts them, in MB (10^6 bytes).\n\n")
    f.write(results.markdown_table(rows) + "\n")
    f.write(f"## The run image `{run_image}`: {run_mb:.1f} MB\n\n")
    f.write(f"Its base `{base_image}` (debootstrap's minbase, imported by bench/steps/images.sh) is {base_mb:.1f} MB. "
            f"The {len(packages)} Debian packages' installed sizes add up to {total_kb / 1024:.1f} MiB "
            "(dpkg's estimate, KiB); directories (du):\n\n")
    f.write("| directory | MiB |\n| --- | ---: |\n")
    for line in (work / "dirs.tsv").read_text().splitlines():
        kb, directory = line.split("\t")
        f.write(f"| {directory} | {int(kb) / 1024:.1f} |\n")
    f.write("\nEvery package, largest first:\n\n| package | MiB | priority | why it is there |\n| --- | ---: | --- | --- |\n")
    for name in sorted(packages, key=lambda n: -packages[n]["kb"]):
        p = packages[name]
        f.write(f"| {name} | {p['kb'] / 1024:.2f} | {p['priority']} | {why(name)} |\n")
    for name, label in apps.items():
        for kind, title in (("ours", "ours (pack)"), ("dockerfile", "multi-stage Dockerfile")):
            f.write(f"\n## {label}, {title}: {sizes[(name, kind)]:.1f} MB\n\n{layers(kind, name)}\n")
    f.write(reading)
print(f"wrote {out}", file=sys.stderr)
PY
