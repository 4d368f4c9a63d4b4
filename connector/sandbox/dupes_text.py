"""The field comparison methods of Salesforce's standard matching rules, as scores 0-100.

Split out of ``dupes``: Help, "Matching Methods Used with Matching Rules" names an exact
method, edit distance, keyboard distance, Jaro-Winkler, a phonetic code (Metaphone 3, here
simplified) and name variants; each is a pure function over two values, tested on its own
(tests/test_sandbox_rules_dupes.py).
"""

from __future__ import annotations

from typing import Any, Callable


# -- text comparison -----------------------------------------------------------------------

def _norm(value: Any) -> str:
    return " ".join(str(value or "").lower().split())


def _lev(a: str, b: str, sub_cost: Callable[[str, str], float] | None = None) -> float:
    if a == b:
        return 0.0
    prev = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, 1):
        cur = [float(i)]
        for j, cb in enumerate(b, 1):
            cost = 0.0 if ca == cb else (sub_cost(ca, cb) if sub_cost else 1.0)
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost))
        prev = cur
    return prev[-1]


def edit_score(a: str, b: str) -> float:
    """Edit Distance: 100 for equal text, falling with each insertion, deletion, change."""
    if not a or not b:
        return 0.0
    return 100.0 * (1 - _lev(a, b) / max(len(a), len(b)))


_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEYPOS = {ch: (r, c) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)}


def _key_cost(a: str, b: str) -> float:
    pa, pb = _KEYPOS.get(a), _KEYPOS.get(b)
    if pa and pb and abs(pa[0] - pb[0]) <= 1 and abs(pa[1] - pb[1]) <= 1:
        return 0.5        # a neighbouring key: a likely typing slip
    return 1.0


def keyboard_score(a: str, b: str) -> float:
    """Keyboard Distance: an edit distance where a neighbouring-key slip costs half."""
    if not a or not b:
        return 0.0
    return 100.0 * (1 - _lev(a, b, _key_cost) / max(len(a), len(b)))


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity, 0..100 (prefix weight 0.1, up to 4 characters)."""
    if not a or not b:
        return 0.0
    if a == b:
        return 100.0
    window = max(len(a), len(b)) // 2 - 1
    used = [False] * len(b)
    matches_a = []
    for i, ch in enumerate(a):
        for j in range(max(0, i - window), min(len(b), i + window + 1)):
            if not used[j] and b[j] == ch:
                used[j] = True
                matches_a.append(ch)
                break
    if not matches_a:
        return 0.0
    matches_b = [b[j] for j in range(len(b)) if used[j]]
    transpositions = sum(x != y for x, y in zip(matches_a, matches_b)) / 2
    m = len(matches_a)
    jaro = (m / len(a) + m / len(b) + (m - transpositions) / m) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4]):
        if x != y:
            break
        prefix += 1
    return 100.0 * (jaro + prefix * 0.1 * (1 - jaro))


def phonetic(word: str) -> str:
    """A compact sound key in the spirit of (double) metaphone: ``Doe`` -> ``T``,
    ``Benioff`` -> ``PNF`` as in the Help's match-key examples. A simplification of
    Metaphone 3, which is proprietary."""
    w = "".join(ch for ch in word.lower() if ch.isalpha())
    if not w:
        return ""
    for src, dst in (("ph", "f"), ("gh", ""), ("ck", "k"), ("sch", "sk"), ("sh", "x"),
                     ("ch", "x"), ("th", "0"), ("dg", "j"), ("wr", "r")):
        w = w.replace(src, dst)
    if w[:2] in ("kn", "gn", "pn"):
        w = w[1:]
    out: list[str] = []
    for i, ch in enumerate(w):
        nxt = w[i + 1] if i + 1 < len(w) else ""
        if ch in "aeiou":
            code = "A" if i == 0 else ""
        elif ch == "c":
            code = "S" if nxt in "eiy" else "K"
        elif ch == "g":
            code = "J" if nxt in "eiy" else "K"
        elif ch in "wyh":
            code = ch.upper() if i == 0 and nxt in "aeiou" else ""
        else:
            code = {"b": "P", "d": "T", "v": "F", "z": "S", "q": "K", "x": "KS"}.get(ch, ch.upper())
        if code and (not out or out[-1] != code):
            out.append(code)
    return "".join(out)


_VARIANTS = [
    ("robert", "bob", "bobby", "rob", "robbie"), ("william", "bill", "billy", "will", "willy"),
    ("james", "jim", "jimmy", "jamie"), ("michael", "mike", "mikey"), ("john", "jack", "johnny"),
    ("katherine", "catherine", "kate", "katie", "kathy", "cathy"),
    ("elizabeth", "liz", "lizzie", "beth", "betty", "eliza"), ("thomas", "tom", "tommy"),
    ("david", "dave", "davey"), ("daniel", "dan", "danny"), ("christopher", "chris", "kit"),
    ("alexander", "alex", "sandy"), ("samuel", "sam", "sammy"), ("joseph", "joe", "joey"),
    ("anthony", "tony"), ("patrick", "pat", "paddy"), ("patricia", "pat", "patty", "trish"),
    ("stephen", "steven", "steve"), ("richard", "rick", "rich", "dick"), ("edward", "ed", "ted"),
    ("andrew", "andy", "drew"), ("matthew", "matt"), ("nicholas", "nick", "nicky"),
    ("jennifer", "jen", "jenny"), ("susan", "sue", "suzy"), ("margaret", "maggie", "peggy", "meg"),
    ("benjamin", "ben", "benny"), ("gregory", "greg"), ("jeffrey", "jeff"), ("ronald", "ron"),
    ("donald", "don"), ("lawrence", "larry"), ("charles", "charlie", "chuck"),
    ("henry", "harry", "hank"), ("deborah", "deb", "debbie"), ("rebecca", "becky"),
    ("victoria", "vicky", "tori"), ("timothy", "tim"), ("kenneth", "ken", "kenny"),
]
_VARIANT_OF: dict[str, set[str]] = {}
for _group in _VARIANTS:
    for _name in _group:
        _VARIANT_OF.setdefault(_name, set()).update(_group)


def first_name_score(a: str, b: str) -> float:
    """Exact, Initials, Jaro-Winkler, Metaphone 3, Name Variant; the maximum counts."""
    a, b = _norm(a).rstrip("."), _norm(b).rstrip(".")
    if not a or not b:
        return 0.0
    if a == b or b in _VARIANT_OF.get(a, ()):
        return 100.0
    if (len(a) == 1 or len(b) == 1) and a[0] == b[0]:
        return 100.0          # Initials: "J" and "John"
    if phonetic(a) == phonetic(b):
        return 100.0
    return jaro_winkler(a, b)


def last_name_score(a: str, b: str) -> float:
    """Exact, Keyboard Distance, Metaphone 3; the maximum counts."""
    a, b = _norm(a), _norm(b)
    if not a or not b:
        return 0.0
    if a == b or phonetic(a) == phonetic(b):
        return 100.0
    return keyboard_score(a, b)


_LEGAL = {"inc", "incorporated", "corp", "corporation", "co", "company", "llc", "ltd", "limited",
          "plc", "gmbh", "ag", "sa", "the", "group", "holdings"}


def _company_words(value: Any) -> list[str]:
    words = "".join(ch if ch.isalnum() else " " for ch in str(value or "").lower()).split()
    return [w for w in words if w not in _LEGAL]


def company_score(a: Any, b: Any) -> float:
    """Acronym, Edit Distance, Exact, after dropping punctuation and legal words (Inc, Corp...)."""
    wa, wb = _company_words(a), _company_words(b)
    if not wa or not wb:
        return 0.0
    ja, jb = " ".join(wa), " ".join(wb)
    if ja == jb:
        return 100.0
    for short, words in ((ja, wb), (jb, wa)):
        if len(words) > 1 and short.replace(" ", "") == "".join(w[0] for w in words):
            return 100.0      # Acronym: "IBM" and "International Business Machines"
    return edit_score(ja, jb)


def _phone_digits(value: Any) -> str:
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def _exact(a: Any, b: Any) -> float:
    return 100.0 if _norm(a) and _norm(a) == _norm(b) else 0.0
