"""Study designs: one vocabulary for papers and registered trials, and the rules that
assign it.

A paper's design comes from its indexing when it has any (publication types, then MeSH
check tags), and is otherwise inferred from the wording of its title and abstract. The
wording rules are deliberately timid: a paper that only *mentions* randomization (a
protocol, a secondary analysis, a pilot, a quasi-experiment, an animal study, a comment)
is not inferred to be a randomized trial, and a paper whose wording is unclear is left as
"other". ``benchmarks/bench_designs.py`` measures them against NLM's indexing.

A randomized trial needs the paper's *own* randomization ("we randomly assigned", "In this
randomized, double-blind trial", "DESIGN: randomized ..."), and is refused when the words are
about other studies (RCTs, "randomized trials were included"), when the paper analyses a
trial's data afterwards (secondary, post hoc, sub-analyses, participants *in* a trial, an
economic evaluation), when it plans one (a title naming a protocol, a design or a rationale;
"will be randomized"), or when it is not a trial of people (animals, specimens). A systematic
review or meta-analysis needs a title that says so, or the review's own method in the abstract
(Cochrane or JAMA-style headings, PRISMA as a reporting guideline, or the paper calling itself
one and saying it searched databases); a plan for one is a protocol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Raised whenever the rules change, so stored designs are recomputed.
RULES_VERSION = 2

META_ANALYSIS = "meta-analysis"
SYSTEMATIC_REVIEW = "systematic review"
RCT = "randomized controlled trial"
NON_RANDOMIZED = "non-randomized controlled trial"
SINGLE_ARM = "single-arm / open-label trial"
OBSERVATIONAL = "observational study"
CASE_REPORT = "case report / case series"
NARRATIVE_REVIEW = "narrative review"
PROTOCOL = "study protocol"
PRECLINICAL = "preclinical (animal or in vitro)"
COMMENTARY = "commentary / editorial / letter"
OTHER = "other"
DESIGNS = (META_ANALYSIS, SYSTEMATIC_REVIEW, RCT, NON_RANDOMIZED, SINGLE_ARM, OBSERVATIONAL,
           CASE_REPORT, NARRATIVE_REVIEW, PROTOCOL, PRECLINICAL, COMMENTARY, OTHER)
# Design groups: the one definition the views (SQL, through litwatch.store.spec.sql_in) and
# the report use. Studies of people that report what they found (a paper of one of these
# reports its trial's results); the designs the brief and the events single out.
EMPIRICAL = (RCT, NON_RANDOMIZED, SINGLE_ARM, OBSERVATIONAL, CASE_REPORT)
STRONG = (META_ANALYSIS, SYSTEMATIC_REVIEW, RCT)

# Publication types, strongest evidence first: the first that a record carries decides.
PUBLICATION_TYPE_DESIGNS = [
    ("Meta-Analysis", META_ANALYSIS),
    ("Systematic Review", SYSTEMATIC_REVIEW),
    ("Scoping Review", SYSTEMATIC_REVIEW),
    ("Clinical Trial Protocol", PROTOCOL),
    ("Randomized Controlled Trial, Veterinary", PRECLINICAL),
    ("Randomized Controlled Trial", RCT),
    ("Equivalence Trial", RCT),
    ("Pragmatic Clinical Trial", RCT),
    ("Controlled Clinical Trial", NON_RANDOMIZED),
    ("Clinical Trial, Phase I", SINGLE_ARM),
    ("Clinical Trial, Phase II", SINGLE_ARM),
    ("Clinical Trial, Phase III", SINGLE_ARM),
    ("Clinical Trial, Phase IV", SINGLE_ARM),
    ("Clinical Trial", SINGLE_ARM),
    ("Observational Study", OBSERVATIONAL),
    ("Case Reports", CASE_REPORT),
    ("Review", NARRATIVE_REVIEW),
    ("Editorial", COMMENTARY),
    ("Comment", COMMENTARY),
    ("Letter", COMMENTARY),
    ("News", COMMENTARY),
    ("Interview", COMMENTARY),
]
# MeSH check tags (MEDLINE-indexed records) that name an observational design.
OBSERVATIONAL_MESH = {"Cohort Studies", "Case-Control Studies", "Cross-Sectional Studies",
                      "Retrospective Studies", "Prospective Studies", "Longitudinal Studies",
                      "Follow-Up Studies"}

# Wording cues, for records not yet indexed (most new ones carry only "Journal Article").
# Each pattern is matched against lower-cased text at the start of a word, and starts with
# a letter and a plain character (see _combined). Cues named ``*_title`` count only in a
# title. infer_design weighs the cues found; the order of a name's patterns matters only
# when two cues start at the same word (the first listed wins).
_RANDOMIZED = r"randomi[sz]ed"
_SPECIES = ("rats?", "mice", "mouse", "murine", "rodents?", "guinea[- ]pigs?", "rabbits?",
            "dogs?", "canine", "cats", "feline", "pigs", "piglets?", "swine", "porcine", "sheep", "ewes?",
            "lambs?", "ovine", "goats?", "cattle", "cows?", "calves", "heifers?", "bovine", "horses?",
            "equine", "ponies", "mares?", "monkeys?", "macaques?", "baboons?", "marmosets?",
            "beagles?", "primates?", "nonhuman primates?", "non-human primates?", "zebrafish",
            "goldfish", "rockfish", "carp", "trout", "salmon", "tilapia", "shrimps?", "prawns?", "oysters?",
            "larvae", "drosophila", "insects?", "mosquito(?:e?s)?", "birds?", "broilers?", "chickens?", "poultry",
            "chicks", "hens", "geese", "ducks?", "quail")
# Laboratory words that place a study when its title uses them, but that an abstract uses in passing too
# ("in humans and animals", "cytokines in vitro", "a Chinese hamster ovary cell vaccine").
_LABORATORY = ("animals", "hamsters?", "in vitro(?! fertili[sz]ation)", "cell lines?", "xenografts?")
_TRIAL_AHEAD = r"(?=[^.:;]{0,80}\b(?:trial|study|review)\b)"
CUES: dict[str, tuple[str, ...]] = {
    # A plan or a design paper, not a result: "Rationale and design of ...", "Study protocol".
    # Results papers cite their own "study protocol" too, so most of these count only in a title.
    "protocol_title": (
        r"study protocol\b", r"trial protocol\b", r"review protocol\b", r"research protocol\b",
        r"project protocol\b", rf"protocol (?:for|of) (?:a|an|the)\b{_TRIAL_AHEAD}",
        r"design(?:,| and) (?:methods?|methodology|baseline)\b", r"methods? and design\b",
        r"rationale for (?:a|an|the)\b(?=[^.:;]{0,120}\b(?:trial|study|randomi[sz]ed)\b)",
    ),
    "protocol": (
        r"rationale(?:,| and) (?:the )?(?:study )?design\b", r"design(?:,| and) rationale\b",
        r"methods and analysis\s*:", r"ethics and dissemination\s*:", r"methods?/design\s*:",
        r"will (?:be )?(?:randomi[sz]ed?|randomly (?:assigned|allocated|assign|allocate))\b",
        r"will be (?:recruited|enrolled)\b",
        # "The VEGA trial is a randomized phase III study designed to test ...": a plan, described.
        r"is (?:a|an) (?:[a-z0-9-]+,? ){0,6}(?:trial|study) designed to\b",
        rf"we propose (?:a|an)\b{_TRIAL_AHEAD}",
        rf"describes? the (?:study |trial )?(?:protocol|design|rationale)\b{_TRIAL_AHEAD}",
        rf"presents? the (?:study |trial )?(?:protocol|design|rationale)\b{_TRIAL_AHEAD}",
        rf"outlines? the (?:study |trial )?(?:protocol|design|rationale)\b{_TRIAL_AHEAD}",
    ),
    "meta_analysis": (r"meta-?analys[ie]s\b",),
    "systematic_review": (r"systematic (?:literature )?review\b", r"scoping review\b", r"umbrella review\b",
                          r"systematically reviewed\b"),
    # Headings and reporting guidelines that only systematic reviews use (Cochrane, PRISMA).
    # PRISMA counts as a reporting guideline only, not as the name of a scanner ("3T Siemens Prisma").
    "review_method": (r"search methods\s*:", r"selection criteria\s*:", r"data collection and analysis\s*:",
                      r"authors'? conclusions\s*:", r"study selection\s*:", r"data extraction and synthesis\s*:",
                      r"eligibility criteria for selecting studies\b",
                      r"preferred reporting items for systematic",
                      r"prisma(?:[- ](?:scr|p|nma|ipd|s|dta|2020|2009))?\)?,? (?:20[0-2]\d )?(?:guidelines?|statement|"
                      r"checklist|flow|diagram|recommendations?|criteria|standards?|method|methodology|protocol|"
                      r"declaration|approach|framework|reporting|extension)\b",
                      *(rf"{verb} (?:to )?(?:the )?(?:updated )?prisma\b"
                        for verb in ("according", "following", "followed", "follows", "adhering", "adhered", "using",
                                     "per", "in line with", "in accordance with", "conforming", "guided by",
                                     "based on", "as recommended by", "complied with", "reported as"))),
    # A review's own search: databases searched, studies found. Counts only with the paper's own review words.
    "review_search": (r"we (?:systematically |comprehensively |electronically )?searched\b",
                      *(rf"{verb} (?:systematically |comprehensively |electronically )?searched\b"
                        for verb in ("were", "was")),
                      r"systematic(?:ally)? (?:literature |electronic |database )?search(?:es|ed)?\b",
                      r"literature search(?:es)? (?:was|were) (?:conducted|performed|carried out|undertaken)\b",
                      r"searches (?:of|in) (?:the )?(?:pubmed|medline|embase|cochrane|scopus|web of science|cinahl)\b",
                      r"from (?:their )?inception\b", r"databases? (?:were|was) searched\b"),
    "review_self": (r"this (?:systematic |scoping |umbrella )?review\b", r"this meta-?analys[ie]s\b",
                    *(rf"{who} (?:conducted|performed|undertook|carried out|did|present) (?:a|an) "
                      r"(?:updated )?(?:systematic|scoping|umbrella|meta-?analys)" for who in ("we", "authors")),
                    *(rf"{kind} review (?:and meta-?analys[ie]s )?(?:was|were) "
                      r"(?:conducted|performed|carried out|undertaken)\b"
                      for kind in ("systematic", "scoping", "umbrella")),
                    r"meta-?analys[ie]s (?:was|were) (?:conducted|performed|carried out|undertaken|used)\b"),
    # Randomized trials as the subject of a review, not the paper's own design.
    "other_trials": (r"rcts\b",
                     rf"{_RANDOMIZED} (?:controlled |clinical |placebo-controlled )?trials (?:were|was) "
                     r"(?:included|identified|eligible|selected|retrieved|pooled|analy[sz]ed|reviewed)\b",
                     *(rf"{word} (?:\d+|two|three|four|five|six|seven|eight|nine|ten|published|eligible) "
                       rf"(?:[a-z-]+ )?{_RANDOMIZED} (?:controlled |clinical |placebo-controlled )?trials\b"
                       for word in ("of", "from", "in", "across"))),
    "animal": tuple(rf"{species}\b" for species in _SPECIES),
    # ... but animals as a study's subjects count anywhere ("forty animals were randomized").
    "animal_subjects": (r"animals (?:were|was|received|underwent|in each|per group|of each)\b",),
    "laboratory": tuple(rf"{word}\b" for word in _LABORATORY),
    # Analyses of a trial's data that are not its primary report.
    "secondary": (
        r"secondary (?:data )?analys[ie]s (?:of|from|using|with|on)\b", r"post[- ]?hoc analys[ie]s (?:of|from)\b",
        *(rf"{whose} (?:secondary|post[- ]?hoc|exploratory|ancillary) (?:data )?analys[ie]s\b"
          for whose in ("this", "our", "present")),
        r"ancillary stud(?:y|ies)\b", r"sub-?stud(?:y|ies)\b", r"exploratory analys[ie]s of\b",
        r"pooled (?:data|analys[ie]s)\b", r"data were pooled\b", r"re-?analys[ie]s\b", r"using data (?:from|of)\b",
        r"with data (?:from|of)\b", r"analy[sz]ed data (?:from|of)\b",
        rf"analy[sz]ed from (?:a|an|the)\b{_TRIAL_AHEAD}", rf"derived from (?:a|an|the)\b{_TRIAL_AHEAD}",
        rf"as part of (?:a|an|the)\b{_TRIAL_AHEAD}",
        rf"within (?:a|an|the)\b{_TRIAL_AHEAD}", r"in the context of (?:a|an)\b", r"within the context of (?:a|an)\b",
        rf"participants (?:in|of|from) (?:a|an)\b{_TRIAL_AHEAD}",
        rf"participating in (?:a|an|the)\b{_TRIAL_AHEAD}",
        *(rf"{kind} (?:secondary |sub-?|exploratory |ancillary )analys[ie]s\b"
          for kind in ("pre-?specified", "pre-?planned", "planned")),
        r"sub-?analys[ie]s\b", r"long-term extension\b",
        r"data (?=(?:were |was )?(?:obtained |drawn |derived |collected |taken )?"
        r"from (?:a|an|the)\b[^.]{0,80}\btrial\b)",
    ),
    "secondary_title": (r"post[- ]?hoc\b", r"secondary analys", r"exploratory\b", r"ancillary\b", r"pooled\b",
                        r"subgroups?\b", r"insights? from\b", r"lessons? (?:learned )?from\b", r"evidence from\b",
                        r"baseline\b", r"associations? (?:of|between|with)\b", r"associated with\b",
                        r"predictors? of\b", r"determinants of\b",
                        r"factors (?:influencing|affecting|associated|predicting|related|that)\b",
                        r"correlates? of\b", r"risk factors?\b", r"prognostic\b",
                        r"mediat(?:ion|ors?|ing|es)\b", r"moderat(?:ion|ors?|ing|es)\b",
                        r"trajector(?:y|ies)\b",
                        rf"in (?:a|an) (?=(?:[a-z0-9-]+,? (?:and )?){{0,6}}{_RANDOMIZED}\b)",
                        rf"during (?:a|an) (?=(?:[a-z0-9-]+,? (?:and )?){{0,6}}{_RANDOMIZED}\b)"),
    # A pilot or feasibility trial: in a title, any of the words; in an abstract, only when they name a trial
    # or study ("a pilot randomized trial", not "showed the feasibility of").
    "pilot": tuple(rf"{word}\b(?=,? (?:[a-z0-9-]+,? (?:and )?){{0,3}}(?:trial|study|rct|{_RANDOMIZED})\b)"
                   for word in ("pilot", "feasibility", "proof[- ]of[- ]concept")),
    "pilot_title": (r"pilot\b", r"feasibility\b", r"proof[- ]of[- ]concept\b"),
    # An economic evaluation, even one run alongside a trial, is not the trial's report.
    "economic": (r"cost-?(?:effectiveness|utility|benefit|minimi[sz]ation) analys[ie]s\b", r"economic evaluation\b",
                 r"incremental cost-?effectiveness\b", r"cost per quality-adjusted\b"),
    # Random splits of a data set, random draws of specimens: not a trial.
    # ("training group" is an arm of an exercise trial, not a split of a data set.)
    "modelling": (r"training (?:set|cohort|dataset|data)\b", r"testing (?:set|cohort|group|dataset)\b",
                  r"validation (?:set|cohort|group|dataset)\b", r"discovery (?:set|cohort)\b",
                  r"test (?:set|cohort)\b", r"nomograms?\b", r"machine learning\b",
                  r"deep learning\b", r"neural networks?\b", r"training and (?:validation|test)\b", r"radiomics?\b",
                  r"prediction model\b", r"cadaver(?:s|ic)?\b",
                  r"extracted (?:human )?teeth\b", r"in silico\b", r"finite element\b",
                  r"in vitro (?:study|experiment|model|evaluation)\b",
                  *(rf"{things} were (?:then )?(?:randomly|{_RANDOMIZED})\b"
                    for things in ("specimens", "samples", "discs", "disks", "blocks", "crowns"))),
    # Allocation that is not random: a non-randomized trial if it says so, else a quasi-experiment.
    "nonrandomized_trial": (r"non-?randomi[sz]ed (?:controlled |clinical |comparative )?(?:trial|study)\b",
                            r"quasi-?randomi[sz]ed\b"),
    "quasi": (r"quasi[- ]?experiment", r"non-?randomi[sz]ed\b", r"semi-?randomi[sz]ed\b", r"semi-?randomly\b",
              r"controlled before[- ]and[- ]after\b", r"interrupted time[- ]series\b", r"natural experiment"),
    "other_design_title": (r"qualitative\b", r"mixed[- ]methods?\b", r"cost-?(?:effectiveness|utility|benefit)\b",
                           r"economic evaluation\b", r"process evaluation\b", r"experiences? of\b",
                           r"perceptions? of\b", r"barriers\b", r"facilitators\b", r"acceptability\b",
                           r"validity\b", r"validation\b", r"psychometric"),
    # Randomization denied, or a design that is not a trial, in the abstract's own words.
    "not_randomized": (r"not randomi[sz]ed\b", r"not randomly\b", r"without randomi[sz]ation\b"),
    "observational_design": (r"retrospective(?:ly)? (?:review|analy[sz]ed|analys[ie]s|study|cohort|chart)",
                             r"cross-sectional (?:research )?(?:design|study|survey)\b",
                             r"cross-sectional analys[ie]s of\b", r"observational (?:study|design)\b",
                             r"cohort (?:study|design)\b", r"case-control (?:study|design)\b"),
    # A review's own words about itself.
    "review_text": (r"this review\b", r"in this review\b", r"we review\b", r"we summari[sz]e\b",
                    r"of the (?:current |available |published )?literature\b", r"literature review\b",
                    r"narrative review\b"),
    # "A randomized (double-blind ...) trial" names the paper's own design...
    "randomized_title": (rf"{_RANDOMIZED}\b(?=[^.:;]{{0,50}}?\b(?:trial|study|comparison|evaluation)\b)",),
    "randomized_self": tuple(
        rf"{det}(?=(?:[a-z-]+,? (?:and )?){{0,4}}{_RANDOMIZED}\b[^.:;]{{0,40}}?\b(?:trial|study|comparison|design)\b"
        r"(?! (?:is|are|would|will|should|could)\b))"
        for det in ("a (?<!for a )", "this ", "the present ", "our ")),
    # A trial named as such. Without it, random assignment in a study that calls itself an experiment is a
    # laboratory experiment ("across three experiments, we randomly assigned people"), not a trial.
    "trial_word": (r"trial\b", r"rct\b", r"consort\b", r"placebo", r"sham\b", r"nct ?\d{8}\b", r"isrctn"),
    "experiment": (*(rf"{count} experiments\b" for count in ("two", "three", "four", "five", "six", "several")),
                   r"experiment (?:1|2|3|one|two)\b", r"this experiment\b", r"these experiments\b",
                   r"experimental (?:investigation|paradigm|task|manipulation)\b",
                   r"laboratory[- ](?:induced|based|task|setting)\b"),
    # A randomized trial that the authors call for, not one they ran: "requires a randomized study".
    "trial_needed": tuple(rf"{verb} (?=(?:[a-z-]+,? (?:and )?){{0,5}}{_RANDOMIZED}\b)"
                          for verb in ("requires?", "required", "needs?", "needed", "warrants?", "warranted",
                                       "awaits?", "justify", "justifies", "merits?", "calls? for", "deserves?")),
    # ... and so do participants being randomized.
    "randomized": (
        rf"design\s*:\s*(?:[a-z-]+,? (?:and )?){{0,4}}{_RANDOMIZED}\b",
        r"randomly (?:assigned|allocated|divided)\b",
        r"assigned (?:at )?random(?:ly)?\b", r"allocated (?:at )?random(?:ly)?\b", r"divided (?:at )?random(?:ly)?\b",
        rf"was (?:then |subsequently |prospectively |centrally )?{_RANDOMIZED}\b",
        rf"were (?:then |subsequently |prospectively |centrally )?{_RANDOMIZED}\b",
        rf"{_RANDOMIZED},? (?:double|single|triple|observer|assessor)[- ]blind(?![^.:;]{{0,80}}\b(?:trials|studies)\b)",
        rf"double[- ]blind(?:ed)?,? (?:placebo-controlled,? )?{_RANDOMIZED}\b(?![^.:;]{{0,80}}\b(?:trials|studies)\b)",
        rf"{_RANDOMIZED} (?:controlled|clinical|placebo-controlled|sham-controlled|crossover|cross-over) trial\b",
    ),
    "single_arm": (r"open-label\b(?=[^.]{0,30}\b(?:trial|study)\b)",
                   r"single[- ]arm\b(?=[^.]{0,30}\b(?:trial|study)\b)", r"uncontrolled (?:trial|study)\b",
                   r"phase (?:i|ii|1|2)[ab]?(?:/(?:ii|2)[ab]?)? (?:clinical )?(?:trial|study)\b"),
    "case_report": (r"case reports?\b", r"case series\b", r"a case of\b", r"a case with\b", r"case presentation\b",
                    r"report of (?:a|an|one|two|three|four|five|six|\d+) (?:\w+ )?(?:cases?|patients?)\b",
                    r"two cases\b", r"three cases\b"),
    "observational": (r"cohort\b", r"cross-sectional\b", r"case-control\b", r"retrospective\b", r"observational\b",
                      r"registry\b", r"longitudinal (?:study|analysis)\b"),
    # A review names itself; peer, chart and record reviews are something else.
    "not_a_review": (r"peer review\b", r"chart review\b", r"record review\b", r"utili[sz]ation review\b",
                     r"review of \d+\b", r"retrospective review\b"),
    "review": (r"review\b", r"overview\b"),
    "comment": (r"comments? on\b", r"commentary on\b", r"concerns? about\b", r"et al\b", r"reply to\b", r"in reply\b",
                r"letter to the editor\b", r"authors?'? (?:reply|response)\b",
                r"response to (?:the )?(?:letter|comment|commentary|editorial|correspondence)\b", r"editorial\b"),
    # Any title word naming a protocol, a design or a rationale: never a trial's report of results (a
    # "per-protocol" or "protocol-specified" analysis is one). Listed last, so that it hides no cue that starts
    # at the same word ("rationale and design", "DESIGN: randomized").
    "plan_title": (r"pr(?<!per-pr)otocol\b(?![- ](?:specified|defined))", r"design\b", r"rationale\b"),
}
# Whole-title openings: errata and retraction notices, replies, "Design of the X trial".
_NOTICE = re.compile(r"(?:erratum|errata|correction|corrigend(?:um|a)|retraction|retracted|withdrawn|withdrawal"
                     r"|expression of concern|notice of retraction)\b")
_COMMENT_OPENING = re.compile(r"(?:re|reply|in reply|response|comment|commentary|correspondence|letter|editorial)\s*:"
                              r"|(?:reply|response|comment|commentary|letter)(?: to| on| regarding)?\s*[:\"'“‘«]"
                              r"|(?:reply|comment|commentary|letter) (?:to|on|regarding)\b")
_PROTOCOL_OPENING = re.compile(
    r"(?:the |a )?(?:study |trial |experimental |methodological )?(?:design|protocol) (?:of|and|for)\b"
    r"(?=.*\b(?:trials?|cohort|registry|randomi[sz]ed|(?:the|a|an)\b[^:]{0,80}\bstudy)\b)"
    r"|.*: (?:a |the )?(?:study |trial )?protocol\b(?!-)|.*: (?:the )?study design\W*$")
# Cues that show a paper is not the primary report of a randomized trial: anywhere...
NOT_A_TRIAL_REPORT = {"secondary", "pilot", "modelling", "quasi", "nonrandomized_trial", "animal", "animal_subjects",
                      "meta_analysis",
                      "systematic_review", "review_method", "review_search", "review_self", "other_trials", "economic",
                      "review_text", "not_randomized", "observational_design"}
# ... or in the title (an abstract may well mention baseline data, costs or a review).
NOT_A_TRIAL_REPORT_TITLE = {"secondary_title", "other_design_title", "review", "observational", "plan_title",
                            "pilot_title", "laboratory"}
# A systematic review or meta-analysis shown by the abstract alone: its own words about itself and its search.
REVIEW_WORDS = {"systematic_review", "meta_analysis"}


def _combined(cues: dict[str, tuple[str, ...]]) -> re.Pattern[str]:
    """One pattern for all cues; a match's ``lastgroup`` is ``<cue>__<n>``.

    A match consumes only the first two letters of its cue and checks the rest by
    lookahead, so that no match hides a cue that starts at a later word. Alternatives are
    nested by those letters: at each word start the engine compares one letter per
    group, which it does without entering the group, and descends into one group only.
    """
    tree: dict[str, dict[str, list[str]]] = {}
    for cue, patterns in cues.items():
        for n, pattern in enumerate(patterns):
            if not re.match(r"[a-z][a-z -](?![?*+{])", pattern):
                raise ValueError(f"cue pattern must start with a letter and a plain character: {pattern!r}")
            first, second, rest = pattern[0], pattern[1], pattern[2:]
            tree.setdefault(first, {}).setdefault(second, []).append(f"(?={rest})(?P<{cue}__{n}>)")
    return re.compile(r"\b(?:" + "|".join(
        first + "(?:" + "|".join(f"{second}(?:{'|'.join(rests)})" for second, rests in seconds.items()) + ")"
        for first, seconds in tree.items()) + ")")


_CUES = _combined(CUES)
# Cues that are an abstract's headings ("SELECTION CRITERIA:"): they count only where a line
# starts (litwatch stores a structured abstract's parts as "LABEL: text" lines), not inside a
# sentence ("... evaluated with seven selection criteria: ...").
_HEADINGS = {f"{cue}__{n}" for cue, patterns in CUES.items() for n, pattern in enumerate(patterns)
             if pattern.endswith(r"\s*:")}


@dataclass
class ArticleFacts:
    """What the design rules look at."""

    title: str
    abstract: str
    publication_types: set[str]
    mesh: set[str]


def find_cues(title: str, abstract: str) -> tuple[set[str], set[str]]:
    """The wording cues found in the title, and those found anywhere."""
    title = title.lower()
    in_title: set[str] = set()
    anywhere: set[str] = set()
    text = f"{title}\n{abstract.lower()}"
    for match in _CUES.finditer(text):
        name = match.lastgroup or ""
        if name in _HEADINGS and match.start() and text[match.start() - 1] != "\n":
            continue
        cue = name.partition("__")[0]
        anywhere.add(cue)
        if match.start() < len(title):
            in_title.add(cue)
    if _NOTICE.match(title):
        in_title.add("notice")
    if _COMMENT_OPENING.match(title):
        in_title.add("comment")
    if _PROTOCOL_OPENING.match(title):
        in_title.add("protocol")
        anywhere.add("protocol")
    return in_title, anywhere


def infer_design(title: str, abstract: str) -> str:
    """The design the wording shows, or OTHER when it does not show one clearly."""
    in_title, anywhere = find_cues(title, abstract)
    return _publication_kind(in_title, anywhere) or _study_design(in_title, anywhere)


def _publication_kind(in_title: set[str], anywhere: set[str]) -> str | None:
    """What a paper that reports no study of its own is (notice, comment, protocol, review),
    as its title or its reporting headings say; None for a paper they do not place."""
    if "notice" in in_title:
        return OTHER
    if "comment" in in_title:
        return COMMENTARY
    if in_title & {"protocol", "protocol_title"}:
        return PROTOCOL
    if "meta_analysis" in in_title:
        return META_ANALYSIS
    if "systematic_review" in in_title:
        return SYSTEMATIC_REVIEW
    if "protocol" in anywhere:
        return PROTOCOL
    if "review_method" in anywhere or (anywhere & REVIEW_WORDS and {"review_self", "review_search"} <= anywhere):
        return META_ANALYSIS if "meta_analysis" in anywhere else SYSTEMATIC_REVIEW
    return None


def _study_design(in_title: set[str], anywhere: set[str]) -> str:
    """The design of the study a paper reports, from the cues of its title and abstract."""
    reviewed = "review" in in_title and "not_a_review" not in in_title
    if in_title & {"animal", "animal_subjects", "laboratory"} and not reviewed:
        return PRECLINICAL
    if "case_report" in in_title:
        return CASE_REPORT
    if "randomized_title" in in_title or "randomized" in anywhere or (
            "randomized_self" in anywhere and "trial_needed" not in anywhere):
        if anywhere & NOT_A_TRIAL_REPORT or in_title & NOT_A_TRIAL_REPORT_TITLE:
            return OTHER
        named_trial = anywhere & {"trial_word", "randomized_self"} or "randomized_title" in in_title
        if "experiment" in anywhere and not named_trial:
            return OTHER
        return RCT
    if "nonrandomized_trial" in anywhere and not anywhere & NOT_A_TRIAL_REPORT - {"nonrandomized_trial", "quasi"}:
        return NON_RANDOMIZED
    if "single_arm" in anywhere:
        return SINGLE_ARM
    if anywhere & {"observational", "observational_design"}:
        return OBSERVATIONAL
    if reviewed:
        return NARRATIVE_REVIEW
    return OTHER


def indexed_design(publication_types: set[str], mesh: set[str]) -> tuple[str, str] | None:
    """Design and rule (publication_type or mesh) from NLM's indexing, or None."""
    animals_only = "Animals" in mesh and "Humans" not in mesh
    for publication_type, design in PUBLICATION_TYPE_DESIGNS:
        if publication_type in publication_types:
            if animals_only and design in (RCT, NON_RANDOMIZED, SINGLE_ARM, OBSERVATIONAL, CASE_REPORT):
                return PRECLINICAL, "mesh"
            return design, "publication_type"
    if animals_only:
        return PRECLINICAL, "mesh"
    if mesh & OBSERVATIONAL_MESH:
        return OBSERVATIONAL, "mesh"
    return None


def classify_article(facts: ArticleFacts) -> tuple[str, str]:
    """Study design of a paper and the rule that decided: publication_type, mesh, text or default."""
    indexed = indexed_design(facts.publication_types, facts.mesh)
    if indexed:
        return indexed
    design = infer_design(facts.title, facts.abstract)
    return (design, "text") if design != OTHER else (OTHER, "default")


def classify_trial(study_type: str | None, allocation: str | None) -> str:
    """The same vocabulary for a registered trial, from its design module."""
    if study_type == "OBSERVATIONAL":
        return OBSERVATIONAL
    if study_type != "INTERVENTIONAL":
        return OTHER
    if allocation == "RANDOMIZED":
        return RCT
    if allocation == "NON_RANDOMIZED":
        return NON_RANDOMIZED
    return SINGLE_ARM
