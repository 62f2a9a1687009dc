"""Reading a divsweep results database from Python (standard library; pandas only for
as_frame=True, imported then).

    import divsweep.results as R
    db = R.open("results.db")                   # read-only, safe while a campaign runs
    db.campaigns()                              # [{"campaign_id": 1, "name": ..., "status": ...}]
    rows = db.trials("kd", status="done")       # list of dicts: trial columns, parameters, metrics
    df = db.trials("kd", as_frame=True)         # the same as a DataFrame with typed columns
    db.curves("kd", name="loss")                # long format: trial_id, trial_key, step, name, value, params
    db.pareto("kd")                             # the front (front_rank 0) of each pareto_by group
    db.runs()                                   # one row per invocation of run/resume

It reads the typed base tables (trials, params, metrics, curves), not the v_<campaign> views, so a
parameter that is an integer in every trial's params_json stays an int (the views give REAL),
strings stay strings.  Column names follow the views: a parameter named like a trial column
becomes p_<name>, a metric named like a parameter or trial column m_<name>.

The file is opened as file:PATH?mode=ro.  SQLite's WAL mode needs the -shm file to read; on a
read-only directory without one it falls back to immutable=1, but only when no non-empty -wal
lies beside the database (its commits would be invisible), as `divsweep query` does.
"""
import json
import os
import sqlite3
import urllib.parse

__all__ = ["open", "Results"]

_TRIAL_COLS = ["trial_id", "trial_key", "idx", "seed", "status", "attempts", "rank", "host", "started_at",
               "finished_at", "wall_s", "error"]
_INT_COLS = {"trial_id", "idx", "seed", "attempts", "rank", "step", "front_rank", "campaign_id", "run_id",
             "n_trials", "ranks", "exit_code", "trials_done", "trials_failed", "pid"}


def _uri(path, extra):
    return "file:%s?%s" % (urllib.parse.quote(os.path.abspath(path)), extra)


def open(path):  # noqa: A001 (divsweep.open is the documented name)
    """Opens a results database read-only and returns a Results."""
    return Results(path)


class Results:
    """A read-only view of one results database."""

    def __init__(self, path):
        if not os.path.exists(path):
            raise FileNotFoundError("divsweep: no database at %s" % path)
        self.path = path
        self.immutable = False
        try:
            self._db = sqlite3.connect(_uri(path, "mode=ro"), uri=True)
            self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            wal = path + "-wal"
            if os.path.exists(wal) and os.path.getsize(wal) > 0:
                raise sqlite3.OperationalError(
                    "divsweep: %s cannot be read here (no -shm, and its -wal holds commits): copy the database "
                    "and its -wal to a writable directory and read the copy" % path) from None
            self._db = sqlite3.connect(_uri(path, "immutable=1"), uri=True)
            self.immutable = True
        self._db.execute("PRAGMA query_only = 1")

    def close(self):
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _rows(self, sql, args=()):
        cur = self._db.execute(sql, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def campaigns(self):
        """One dict per campaign (without its spec_json; see spec())."""
        return self._rows("SELECT campaign_id, name, task, status, n_trials, spec_hash, created_at, updated_at "
                          "FROM campaigns ORDER BY campaign_id")

    def spec(self, campaign=None):
        """The campaign's spec as a dict."""
        cid = self._campaign_id(campaign)
        return json.loads(self._db.execute("SELECT spec_json FROM campaigns WHERE campaign_id = ?", (cid,)).fetchone()[0])

    def _campaign_id(self, campaign):
        if campaign is None:
            ids = [r[0] for r in self._db.execute("SELECT campaign_id FROM campaigns")]
            if len(ids) != 1:
                raise ValueError("divsweep: %s holds %d campaigns: name one" % (self.path, len(ids)))
            return ids[0]
        if isinstance(campaign, int):
            row = self._db.execute("SELECT campaign_id FROM campaigns WHERE campaign_id = ?", (campaign,)).fetchone()
        else:
            row = self._db.execute("SELECT campaign_id FROM campaigns WHERE name = ?", (campaign,)).fetchone()
        if row is None:
            raise KeyError("divsweep: no campaign %r in %s" % (campaign, self.path))
        return row[0]

    @staticmethod
    def _status_clause(status):
        if status is None or status == "all":
            return "", ()
        if isinstance(status, str):
            status = [status]
        return " AND t.status IN (%s)" % ",".join("?" * len(status)), tuple(status)

    def _trial_table(self, cid, status):
        """(rows, param_names, metric_names, int_params) for the campaign's trials."""
        where, args = self._status_clause(status)
        trials = self._rows("SELECT t.%s, t.params_json FROM trials t WHERE t.campaign_id = ?%s ORDER BY t.idx, "
                            "t.trial_id" % (", t.".join(_TRIAL_COLS), where), (cid,) + args)
        for t in trials:  # trial keys are 16-byte BLOBs: hex, as `divsweep logs` takes them
            if isinstance(t["trial_key"], bytes):
                t["trial_key"] = t["trial_key"].hex()
        by_id = {t["trial_id"]: t for t in trials}
        pnames, mnames = [], []
        pvals = {}
        sub = "SELECT trial_id FROM trials t WHERE t.campaign_id = ?" + where
        for tid, name, value, text in self._db.execute(
                "SELECT trial_id, name, value, text FROM params WHERE trial_id IN (%s)" % sub,
                (cid,) + args):
            if name not in pvals:
                pvals[name] = {}
                pnames.append(name)
            pvals[name][tid] = text if text is not None else value
        mvals = {}
        for tid, name, value in self._db.execute(
                "SELECT trial_id, name, value FROM metrics WHERE trial_id IN (%s)" % sub, (cid,) + args):
            if name not in mvals:
                mvals[name] = {}
                mnames.append(name)
            mvals[name][tid] = value
        # A parameter is an int when every trial's params_json holds an int for it (parameters
        # flattened from lists or objects, not in params_json by that name, are ints when every
        # stored value is integral and the spec gave no float: their JSON is parsed below).
        int_params = set()
        parsed = {tid: json.loads(t.pop("params_json") or "{}") for tid, t in by_id.items()}
        for name in pnames:
            vals = pvals[name]
            ok = bool(vals)
            for tid, v in vals.items():
                j = _flat(parsed[tid]).get(name, None)
                if not (isinstance(j, int) and not isinstance(j, bool)) or v is None or isinstance(v, str):
                    ok = False
                    break
            if ok:
                int_params.add(name)
        taken = set(_TRIAL_COLS)
        pcol = {}
        for name in pnames:
            pcol[name] = "p_" + name if name.lower() in {c.lower() for c in taken} else name
        taken |= set(pcol.values())
        mcol = {}
        for name in mnames:
            mcol[name] = "m_" + name if name.lower() in {c.lower() for c in taken} else name
        for tid, t in by_id.items():
            for name in pnames:
                v = pvals[name].get(tid)
                if name in int_params and v is not None:
                    v = int(v)
                t[pcol[name]] = v
            for name in mnames:
                t[mcol[name]] = mvals[name].get(tid)
        return (trials, [pcol[n] for n in pnames], [mcol[n] for n in mnames],
                {pcol[n] for n in int_params})

    def trials(self, campaign=None, status="done", as_frame=False):
        """The campaign's trials (status: "done", "failed", "running", a list of them, or None for
        all) as a list of dicts, or a pandas DataFrame with as_frame=True."""
        cid = self._campaign_id(campaign)
        rows, pcols, mcols, ints = self._trial_table(cid, status)
        if not as_frame:
            return rows
        return _frame(rows, _TRIAL_COLS + pcols + mcols, ints | _INT_COLS)

    def curves(self, campaign=None, name=None, status=None, with_params=True, as_frame=False):
        """Curve points in long format: trial_id, trial_key, step, name, value (and, with
        with_params, the trial's parameters), ordered by trial and step; `name` picks one curve
        (a string) or several (a list)."""
        cid = self._campaign_id(campaign)
        where, args = self._status_clause(status)
        if name is not None:
            names = [name] if isinstance(name, str) else list(name)
            where += " AND c.name IN (%s)" % ",".join("?" * len(names))
            args += tuple(names)
        rows = self._rows("SELECT c.trial_id, t.trial_key, c.step, c.name, c.value FROM curves c JOIN trials t "
                          "USING (trial_id) WHERE t.campaign_id = ?%s ORDER BY t.idx, c.trial_id, c.name, c.step"
                          % where, (cid,) + args)
        for r in rows:
            if isinstance(r["trial_key"], bytes):
                r["trial_key"] = r["trial_key"].hex()
        cols, ints = ["trial_id", "trial_key", "step", "name", "value"], set(_INT_COLS)
        if with_params:
            trials, pcols, _, pints = self._trial_table(cid, None)
            by_id = {t["trial_id"]: t for t in trials}
            for r in rows:
                t = by_id.get(r["trial_id"], {})
                for p in pcols:
                    if p not in r:
                        r[p] = t.get(p)
            cols += [p for p in pcols if p not in cols]
            ints |= pints
        return _frame(rows, cols, ints) if as_frame else rows

    def pareto(self, campaign=None, front_rank=0, as_frame=False):
        """Trials on Pareto front `front_rank` (0 = the front; None = every rank) of each group,
        as trial rows with `grp` and `front_rank` added."""
        cid = self._campaign_id(campaign)
        rows, pcols, mcols, ints = self._trial_table(cid, None)
        by_id = {t["trial_id"]: t for t in rows}
        sql, args = "SELECT grp, trial_id, front_rank FROM pareto WHERE campaign_id = ?", (cid,)
        if front_rank is not None:
            sql, args = sql + " AND front_rank = ?", args + (front_rank,)
        out = []
        for grp, tid, fr in self._db.execute(sql + " ORDER BY grp, front_rank, trial_id", args):
            if tid in by_id:
                r = {"grp": grp, "front_rank": fr}
                r.update(by_id[tid])
                out.append(r)
        return _frame(out, ["grp", "front_rank"] + _TRIAL_COLS + pcols + mcols, ints | _INT_COLS) if as_frame else out

    def runs(self, campaign=None, as_frame=False):
        """One row per invocation (run or resume) of the campaign, or of every campaign."""
        if campaign is None:
            rows = self._rows("SELECT * FROM runs ORDER BY run_id")
        else:
            rows = self._rows("SELECT * FROM runs WHERE campaign_id = ? ORDER BY run_id",
                              (self._campaign_id(campaign),))
        if not as_frame:
            return rows
        cols = [d[1] for d in self._db.execute("PRAGMA table_info(runs)")]
        return _frame(rows, cols, _INT_COLS)


def _flat(params):
    """params_json flattened as the params table names things: lists as name_0, name_1, ...,
    objects as name_key (scalars as they are)."""
    out = {}

    def walk(prefix, v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(prefix + "_" + k if prefix else k, x)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk("%s_%d" % (prefix, i), x)
        else:
            out[prefix] = v

    for k, v in params.items():
        out[k] = v
        if isinstance(v, (dict, list)):
            walk(k, v)
    return out


def _frame(rows, cols, int_cols):
    import pandas as pd  # only here: the rest of the module needs the standard library alone

    df = pd.DataFrame.from_records(rows, columns=cols)
    for c in cols:
        if c in int_cols and c in df:
            s = df[c]
            if s.isna().any():
                df[c] = s.astype("Int64")
            elif len(s):
                df[c] = s.astype("int64")
    return df
