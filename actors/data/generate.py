"""Regenerates the gazetteers in this folder from the registry packages named in SOURCES.md.

Run from this folder with the unpacked packages' paths (see SOURCES.md); writes the *.txt
files, sorted, lowercase, one entry a line. The extractor never runs this: it embeds the
.txt files at build time.
"""
import ast, json, re, sys, unicodedata

NAMES, GEO, FAKER_JOBS, WORDNET = sys.argv[1:5]


def ascii_fold(s):
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()


# ---- WordNet: lemmas written in lowercase somewhere are common words; proper nouns keep caps.
synsets = {}
for line in open(f"{WORDNET}/data.noun", encoding="latin-1"):
    if line.startswith("  "):
        continue
    head, _, gloss = line.partition(" | ")
    f = head.split()
    off, wcnt = f[0], int(f[3], 16)
    words = [f[4 + 2 * i] for i in range(wcnt)]
    k = 4 + 2 * wcnt
    pcnt = int(f[k]); k += 1
    ptrs = []
    for _ in range(pcnt):
        ptrs.append((f[k], f[k + 1])); k += 4
    synsets[off] = (words, ptrs, gloss)
common = set()
for pos in ("noun", "verb", "adj", "adv"):
    for line in open(f"{WORDNET}/data.{pos}", encoding="latin-1"):
        if line.startswith("  "):
            continue
        f = line.split(" | ")[0].split()
        for i in range(int(f[3], 16)):
            w = re.sub(r"\(.*\)$", "", f[4 + 2 * i])
            if w == w.lower():
                common.add(w.replace("_", " "))
adjectives = set()
for line in open(f"{WORDNET}/index.adj", encoding="latin-1"):
    if not line.startswith("  "):
        adjectives.add(line.split()[0].replace("_", " "))
verbs = set()
for line in open(f"{WORDNET}/index.verb", encoding="latin-1"):
    if not line.startswith("  "):
        verbs.add(line.split()[0].replace("_", " "))
index = {}
for line in open(f"{WORDNET}/index.noun", encoding="latin-1"):
    if line.startswith("  "):
        continue
    f = line.split()
    n = int(f[2])
    index[f[0]] = f[-n:]


def sense(lemma, n):
    return index[lemma][n - 1]


def descendants(off, instances=False):
    out, stack, seen = [], [off], set()
    while stack:
        o = stack.pop()
        if o in seen:
            continue
        seen.add(o)
        words, ptrs, _ = synsets[o]
        out.extend(words)
        for sym, target in ptrs:
            if sym == "~" or (instances and sym == "~i"):
                stack.append(target)
    return out


def clean(words):
    return {w.replace("_", " ").lower() for w in (re.sub(r"\(.*\)$", "", x) for x in words)}


def write(name, entries):
    entries = sorted(e for e in entries if e and e.isascii() and len(e) >= 2)
    with open(name, "w") as f:
        f.write("\n".join(entries) + "\n")
    print(name, len(entries))


# ---- first names: US Census 1990 (names package); common English words that read as
# adjectives are left out ("i am sunny" is a mood).
first = set()
for fn in ("dist.male.first", "dist.female.first"):
    for line in open(f"{NAMES}/{fn}"):
        first.add(line.split()[0].lower())
first = {n for n in first if n not in adjectives and n.isalpha() and len(n) >= 2}
write("first_names.txt", first)

# ---- places: countries, US states, cities with 100,000+ people (and US ones with 50,000+),
# in ASCII, without those that are also common English words ("reading", "nice", "mobile").
places = set()
for c in json.load(open(f"{GEO}/countries.json")).values():
    places.add(ascii_fold(c["name"]).lower())
for s in json.load(open(f"{GEO}/us_states.json")).values():
    places.add(ascii_fold(s["name"]).lower())
for c in json.load(open(f"{GEO}/cities15000.json")).values():
    if c["population"] >= 100_000 or (c["countrycode"] == "US" and c["population"] >= 50_000):
        places.add(ascii_fold(c["name"]).lower())
places = {p for p in places if p not in common and re.fullmatch(r"[a-z][a-z .'-]*", p)}
# Short forms and regions people say in chat, which no gazetteer above spells that way.
places |= {"america", "usa", "the usa", "the us", "the states", "uk", "the uk", "britain",
           "great britain", "england", "scotland", "wales", "northern ireland", "korea",
           "europe", "asia", "africa", "south america", "north america", "australia",
           "the midwest", "midwest", "the south", "the east coast", "east coast",
           "the west coast", "west coast", "the pnw", "pnw", "pacific northwest",
           "the pacific northwest", "new england", "the bay area", "bay area", "norcal",
           "socal", "southern california", "northern california", "southern utah",
           "northern utah", "upstate new york", "long island", "nyc", "la", "dc",
           "washington dc", "the philippines", "philippines", "the netherlands",
           "holland", "hong kong", "taiwan", "st. george", "st george", "saint george"}
write("places.txt", places)

# ---- occupations: the head nouns of Faker's job titles ("Academic librarian" -> librarian).
# Heads that are not occupations on their own ("a runner", "a person", "staff").
NOT_JOBS = {"boy", "copy", "crew", "emeritus", "land", "make", "person", "processor",
            "professional", "runner", "staff", "sub", "visitor", "associate", "dealer"}
src = open(FAKER_JOBS).read()
tree = ast.parse(src)
jobs = set()
for node in ast.walk(tree):
    if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "jobs":
        for e in node.value.elts:
            title = e.value.split(",")[0].split("(")[0].strip().lower()
            head = title.split()[-1]
            if head.isalpha() and head not in NOT_JOBS:
                jobs.add(head)
write("occupations.txt", jobs)

# ---- animals kept as pets: WordNet's domestic animals, dog and cat breeds, and the small
# animals people keep (rodents, reptiles, fish, birds under "pet"-like synsets).
pets = set()
animal_synsets = set()
for lemma, n in [("animal", 1)]:
    stack = [sense(lemma, n)]
    while stack:
        o = stack.pop()
        if o not in animal_synsets:
            animal_synsets.add(o)
            stack.extend(t for sym, t in synsets[o][1] if sym in ("~", "~i"))
for lemma, n in [("domestic_animal", 1), ("dog", 1), ("domestic_cat", 1), ("horse", 1),
                 ("rabbit", 1), ("rodent", 1), ("lizard", 1), ("snake", 1), ("turtle", 2),
                 ("parrot", 1), ("finch", 1), ("goldfish", 1)]:
    pets |= clean(descendants(sense(lemma, n)))
# Only words whose every noun sense is an animal: "boxer" and "pointer" are people and
# things too, and "I have a boxer" is no pet fact.
pets = {p for p in pets if re.fullmatch(r"[a-z][a-z -]*", p) and len(p.split()) <= 3
        and set(index.get(p.replace(" ", "_"), [])) <= animal_synsets and p not in first
        and p not in adjectives and p not in verbs}
write("animals.txt", pets)

# ---- languages: WordNet's natural languages (proper nouns: "English", "Tagalog").
langs = set()
for w in descendants(sense("natural_language", 1), instances=True):
    w = re.sub(r"\(.*\)$", "", w).replace("_", " ")
    if w[:1].isupper() and re.fullmatch(r"[A-Za-z -]+", w) and len(w.split()) <= 2:
        langs.add(w.lower())
write("languages.txt", langs)
