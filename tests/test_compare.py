"""``python -m bench compare``: two small real runs, the second copied into another machine's
folder with every time doubled, compared point by point."""

from __future__ import annotations

import csv
import json
import shutil

from bench import cli


def run_cli(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, needle):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert needle.lower() in lines[0].lower(), lines[0]


def _real_run(capsys, root):
    rc, _, err = run_cli(capsys, "sweep", "--backends", "reference,cpu", "--presets", "micro",
                         "--sweep", "d_model=16,32", "--fix", "n_layer=1,seq_len=8,batch=2",
                         "--budget", "0.03", "--out", str(root), "--run-id", "r1", "--no-plots")
    assert rc == 0, err
    capsys.readouterr()
    (path,) = root.glob("*/r1.csv")
    return path


def _as_other_machine(path, machine, factor, keep=lambda row: True, backend=None, host=1.0):
    """A copy of the run in ``<root>/<machine>/``, every time (rows and samples) times
    ``factor``; rows ``keep`` rejects are left out; ``backend`` renames every row's backend;
    every host sentinel reading times ``host``."""
    folder = path.parent.parent / machine
    folder.mkdir()
    rows = list(csv.DictReader(open(path, newline="")))
    with open(folder / path.name, "w", newline="") as fh:
        w = csv.DictWriter(fh, rows[0].keys())
        w.writeheader()
        for r in rows:
            if not keep(r):
                continue
            r["backend"] = backend or r["backend"]
            for c in ("median_s", "ci_low_s", "ci_high_s", "device_s", "overhead_s"):
                if r[c]:
                    r[c] = repr(float(r[c]) * factor)
            w.writerow(r)
    with open(folder / "r1.samples.jsonl", "w") as fh:
        for line in path.with_name("r1.samples.jsonl").read_text().splitlines():
            rec = json.loads(line)
            rec["samples"] = [v * factor for v in rec.get("samples") or []]
            if rec.get("host_us"):
                rec["host_us"] = [[v * host for v in r] if isinstance(r, list) else
                                  (r * host if r is not None else None) for r in rec["host_us"]]
            fh.write(json.dumps(rec) + "\n")
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["machine"] = machine
    (folder / "r1.json").write_text(json.dumps(meta))
    return folder / path.name


def test_compare_two_runs_from_different_machine_folders(capsys, tmp_path):
    a = _real_run(capsys, tmp_path / "results")
    b = _as_other_machine(a, "box-slower-gpu", 2.0)
    rc, out, err = run_cli(capsys, "compare", str(a), str(b), "--out", str(tmp_path / "cmp"))
    assert rc == 0, err
    assert f"**{a.parent.name}**" in out and "**box-slower-gpu**" in out
    assert f"## box-slower-gpu against {a.parent.name}" in out
    rows = [line for line in out.splitlines() if line.startswith("| cpu")]
    timed = [r for r in csv.DictReader(open(a)) if r["median_s"] and r["backend"] == "cpu"]
    assert len(rows) == len(timed) >= 2  # every timed point of the shared series
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        ratio, ci = cells[4].split("x ")
        lo, hi = (float(v) for v in ci.strip("[]").split(","))
        assert abs(float(ratio) - 0.5) < 1e-6 and lo <= 0.5 <= hi  # B takes twice as long
        a_ms, b_ms = (float(c.split()[0]) for c in cells[2:4])
        assert abs(b_ms / a_ms - 2.0) < 0.02
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 10_000
    svg = (tmp_path / "cmp" / "compare.svg").read_text()
    assert "box-slower-gpu" in svg and a.parent.name in svg  # machines in the legend


def test_compare_says_when_runs_share_no_series(capsys, tmp_path):
    a = _real_run(capsys, tmp_path / "results")
    b = _as_other_machine(a, "box-other", 1.0, keep=lambda r: r["backend"] == "nothing")
    rc, _, err = run_cli(capsys, "compare", str(a), str(b))
    assert rc == 2 and "holds no rows" in err  # header only: refused before comparing
    c = _as_other_machine(a, "box-third", 1.0, backend="torch")  # the same configs, other series
    rc, _, err = run_cli(capsys, "compare", str(a), str(c))
    assert_one_line_error(rc, err, "box-third share(s) no series")


def test_compare_needs_two_runs_and_finds_them_by_id(capsys, tmp_path):
    a = _real_run(capsys, tmp_path / "results")
    rc, _, err = run_cli(capsys, "compare", str(a))
    assert_one_line_error(rc, err, "two or more runs")
    shutil.copy(a, a.with_name("r2.csv"))
    shutil.copy(a.with_name("r1.samples.jsonl"), a.with_name("r2.samples.jsonl"))
    rc, out, err = run_cli(capsys, "compare", "r1", "r2", "--results", str(tmp_path / "results"))
    assert rc == 0, err
    assert f"{a.parent.name}/r1 vs {a.parent.name}/r2" in out  # one machine: the run ids tell
    assert cli.main(["compare", "r1", "nope", "--results", str(tmp_path / "results")]) == 2


def test_compare_says_when_the_hosts_ran_at_different_speeds(capsys, tmp_path):
    """Both runs read the host sentinel beside every round: a copy whose host core read 40%
    slower gets the warning, naming the slower run; one at the same host speed does not."""
    a = _real_run(capsys, tmp_path / "results")
    assert any(json.loads(line).get("host_us") for line in
               a.with_name("r1.samples.jsonl").read_text().splitlines())
    slow = _as_other_machine(a, "box-slow-host", 1.0, host=1.4)
    rc, out, err = run_cli(capsys, "compare", str(a), str(slow))
    assert rc == 0, err
    (line,) = [x for x in out.splitlines() if "host core ran" in x]
    assert "40% slower in box-slow-host" in line
    assert out.count("host sentinel median") == 3  # both runs' lines and the warning
    same = _as_other_machine(a, "box-same-host", 1.0)
    rc, out, err = run_cli(capsys, "compare", str(a), str(same))
    assert rc == 0 and "host core ran" not in out
