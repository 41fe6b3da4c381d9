#!/usr/bin/env python3
"""Check and preview locale-pack data files (a helper for the people who write them).

  check_pack.py g  FILE.jsonl                 validate G seeds
  check_pack.py c  FILE.jsonl [TEMPLATES]     validate C topics, print each topic's template queries
  check_pack.py jb JAILBREAKS.toml            validate jailbreak phrasings

The Rust pipeline (crates/build) is the reference implementation; this script mirrors its
particle rule so pack writers can read the sentences they produce.
"""
import json, re, sys, tomllib

CATS = ["hate_unfairness", "sexual", "violence", "self_harm", "political_religious",
        "anthropomorphism", "sensitive_uses", "privacy", "illegal_unethical", "copyrights",
        "weaponization"]
KINDS = ["chat", "poster", "news", "forum", "document", "sign", "listing"]
STRATEGIES = ["ResearchExperiment", "ProgramExecution", "LogicalReasoning", "TextContinuation",
              "SuperiorModel", "CharacterRolePlay", "AssumedResponsibility", "Translation",
              "SimulateJailbreaking", "SudoMode"]

def has_batchim(ch):
    o = ord(ch)
    if 0xAC00 <= o <= 0xD7A3:
        return (o - 0xAC00) % 28 != 0
    return None

def rieul(ch):
    o = ord(ch)
    return 0xAC00 <= o <= 0xD7A3 and (o - 0xAC00) % 28 == 8

AFTER_VOWEL = ["를", "가", "는", "와", "로", "라는", "라고", "야", "나", "랑"]

def particle(value, pair):
    a, b = pair.split("/")
    if a in AFTER_VOWEL and b not in AFTER_VOWEL:
        a, b = b, a
    last = value.rstrip()[-1]
    bat = has_batchim(last)
    if bat is None:
        return f"{a}({b})"
    if a == "으로" and rieul(last):
        return b
    return a if bat else b

def fill(tpl, vars):
    def rep(m):
        name, pair = m.group(1), m.group(2)
        if pair is None:
            return vars[name]
        return particle(vars[name], pair)
    return re.sub(r"\{(\w+)(?::([^}]+))?\}", rep, tpl)

errors = 0
def err(msg):
    global errors
    errors += 1
    print("ERROR", msg)

def check_scene(where, s):
    if not isinstance(s, dict) or s.get("kind") not in KINDS:
        err(f"{where}: scene kind must be one of {KINDS}: {s!r}"); return
    if not s.get("title"):
        err(f"{where}: scene has no title")
    lines = s.get("lines")
    if not isinstance(lines, list) or not 2 <= len(lines) <= 5:
        err(f"{where}: scene lines must be a list of 2-5 strings")
        return
    for l in lines:
        if not isinstance(l, str) or not l.strip() or len(l) > 48:
            err(f"{where}: scene line empty or over 48 chars: {l!r}")

def load_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                err(f"{path}:{n}: not JSON: {e}")
    return rows

def check_g(path):
    rows = load_jsonl(path)
    ids, per = set(), {}
    for n, r in rows:
        w = f"{path}:{n}"
        for k in ["id", "category", "en", "key_phrase_en", "contextual", "text", "key_phrase", "rephrased", "scene"]:
            if k not in r or r[k] in ("", None):
                err(f"{w}: missing {k}")
        if r.get("id") in ids: err(f"{w}: duplicate id {r.get('id')}")
        ids.add(r.get("id"))
        if r.get("category") not in CATS: err(f"{w}: bad category {r.get('category')}")
        per[r.get("category")] = per.get(r.get("category"), 0) + 1
        if r.get("contextual"):
            if not r.get("culture_phrase_en") or not r.get("culture_sub"):
                err(f"{w}: contextual seed needs culture_phrase_en and culture_sub")
        else:
            if r.get("culture_phrase_en") is not None or r.get("culture_sub") is not None:
                err(f"{w}: non-contextual seed must have null culture fields")
        check_scene(w, r.get("scene"))
    ctx = sum(1 for _, r in rows if r.get("contextual"))
    print(f"{len(rows)} seeds, {ctx} contextual; per category: {per}")

def check_c(path, tpl_path):
    rows = load_jsonl(path)
    tpls = None
    if tpl_path:
        with open(tpl_path, "rb") as f:
            tpls = tomllib.load(f)
    ids, per = set(), {}
    for n, r in rows:
        w = f"{path}:{n}"
        for k in ["id", "category", "topic", "issue", "target", "attribute", "mean", "rationale", "context", "scenes"]:
            if k not in r or r[k] in ("", None):
                err(f"{w}: missing {k}")
        if r.get("id") in ids: err(f"{w}: duplicate id {r.get('id')}")
        ids.add(r.get("id"))
        if r.get("category") not in CATS: err(f"{w}: bad category {r.get('category')}")
        per[r.get("category")] = per.get(r.get("category"), 0) + 1
        scenes = r.get("scenes") or []
        if len(scenes) != 3: err(f"{w}: need exactly 3 scenes")
        for i, s in enumerate(scenes):
            check_scene(f"{w} scene {i}", s)
        if tpls and all(k in r for k in ["target", "attribute", "mean", "rationale", "context"]):
            print(f"--- {r['id']}: {r['topic']}")
            for kind in ["knowledge", "action", "attitude"]:
                t = tpls[kind][n % len(tpls[kind])]["text"]
                print(f"  [{kind}] {fill(t, r)}")
    print(f"{len(rows)} topics; per category: {per}")

def check_jb(path):
    with open(path, "rb") as f:
        jb = tomllib.load(f)
    for s in STRATEGIES:
        ph = jb.get(s)
        if not ph: err(f"{path}: strategy {s} missing"); continue
        for i, p in enumerate(ph):
            t = p.get("text", "")
            if "{query}" not in t: err(f"{path}: {s}[{i}] has no {{query}} slot")
    extra = set(jb) - set(STRATEGIES) - {"meta"}
    if extra: err(f"{path}: unknown strategies {extra}")
    print({s: len(jb.get(s, [])) for s in STRATEGIES})

if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    {"g": lambda: check_g(path), "c": lambda: check_c(path, sys.argv[3] if len(sys.argv) > 3 else None),
     "jb": lambda: check_jb(path)}[mode]()
    print(f"{errors} error(s)")
    sys.exit(1 if errors else 0)
