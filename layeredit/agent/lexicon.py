"""Word lists for the rule planner: noun-phrase words, plural nouns and number words."""

from __future__ import annotations

import re

# Shown in every "could not understand" message, so a user learns the vocabulary from mistakes.
KNOWN_VERBS: tuple[str, ...] = (
    "move", "shift", "nudge", "drag", "slide", "push", "put", "place", "raise", "lower", "center",
    "remove", "erase", "delete", "get rid of", "take out", "eliminate",
    "resize", "scale", "enlarge", "grow", "shrink", "reduce", "make bigger/smaller",
    "flip", "mirror", "turn upside down",
    "duplicate", "copy", "clone", "make a copy of",
    "swap", "exchange", "switch",
    "bring to front/forward", "send to back/backward",
    "pan", "tilt", "zoom out", "insert ... from FILE",
    "put ... next to/left of/right of/above/below ...", "move ... closer to ...",
    "make ... as big as ...",
)

DETERMINERS = frozenset(
    [
        "the", "a", "an", "this", "that", "these", "those", "my", "our", "your", "his", "her",
        "its", "their", "some", "any"
    ]
)
ALL_QUANTIFIERS = frozenset({"all", "every", "each", "both"})
SINGULAR_PRONOUNS = frozenset({
    "it", "this", "that", "him", "her", "itself", "this one", "that one", "the copy",
    "the duplicate", "the clone", "the new one", "the new copy", "the copied one",
    "the same one", "the same object", "the same thing",
})
PLURAL_PRONOUNS = frozenset({
    "them", "they", "these", "those", "both of them", "all of them", "the copies",
    "these ones", "those ones", "the two", "both", "the pair",
})
# "the one on the left", "the biggest one": the noun is the previous target's.
ANAPHORIC_NOUNS = frozenset({"one", "ones"})

ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10,
    "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6, "7th": 7, "8th": 8, "9th": 9,
    "10th": 10,
}
SUPERLATIVES: dict[str, str] = {
    "largest": "largest", "biggest": "largest", "tallest": "largest", "longest": "largest",
    "widest": "largest", "hugest": "largest",
    "smallest": "smallest", "tiniest": "smallest", "littlest": "smallest",
    "shortest": "smallest", "teeniest": "smallest",
    "leftmost": "leftmost", "westernmost": "leftmost",
    "rightmost": "rightmost", "easternmost": "rightmost",
    "topmost": "topmost", "uppermost": "topmost", "highest": "topmost",
    "bottommost": "bottommost", "lowermost": "bottommost", "lowest": "bottommost",
}
# Before the noun ("the left cat", "the upper shelf") these pick a match rather than describe it.
POSITION_ADJECTIVES: dict[str, str] = {
    "left": "leftmost", "right": "rightmost", "top": "topmost", "upper": "topmost",
    "bottom": "bottommost", "lower": "bottommost",
}
SIDE_SELECT: dict[str, str] = {
    "left": "leftmost", "right": "rightmost", "top": "topmost", "bottom": "bottommost",
}
# Words that may stand before the noun without being the noun themselves.
SIZE_ADJECTIVES = frozenset(
    [
        "small", "big", "large", "little", "tiny", "huge", "giant", "enormous", "front", "back",
        "middle", "far"
    ]
)
# Targets of "move"/"shift" that mean the camera, which makes the op a pan.
CAMERA_WORDS = frozenset(
    [
        "camera", "view", "viewpoint", "viewport", "shot", "frame", "perspective", "lens"
    ]
)

# Words after the head noun that start a description of it: "the man in the red jacket", "the
# woman holding the balloons", "the guy with the backpack". The head noun names the object.
POSTMODIFIERS = frozenset(
    [
        "in", "on", "with", "at", "near", "behind", "beside", "besides", "by", "from", "under",
        "underneath", "beneath", "over", "above", "below", "inside", "outside", "against", "next",
        "close", "wearing", "holding", "carrying", "that", "which", "who", "whose", "where",
        "across", "along", "alongside", "between", "among", "like", "into", "onto", "without",
        "within", "around", "atop", "toward", "towards", "to", "of", "for",
        # where-words without an object: "the man outdoors", "the kids upstairs"
        "indoors", "outdoors", "upstairs", "downstairs", "nearby", "overhead", "offshore",
    ]
)
# Words that never name or describe an object: they belong to a clause of their own (a subject,
# a modal, a conjunction: "you'd be a lifesaver", "but keep the text") or to the social frame of a
# request ("cheers", "kind regards", "happy to pay"). Found inside a noun phrase, they mean the
# parse swallowed words it did not understand.
CLAUSE_WORDS = frozenset(
    [
        "i", "you", "u", "we", "ya", "yall", "he", "she", "they",
        "would", "could", "will", "shall", "should", "might", "must", "may", "cannot",
        "be", "been", "am", "was", "were", "do", "does", "did", "not", "never", "look", "looks",
        "but", "if", "unless", "because", "although", "though", "or", "whether", "until",
        "whilst", "either", "neither", "nor",
    ]
)
SOCIAL_WORDS = frozenset(
    [
        "thanks", "thank", "thx", "tia", "cheers", "regards", "love", "lifesaver", "grateful",
        "thankful", "appreciate", "appreciated", "bless", "kudos", "lol", "lmao", "haha", "xoxo",
        "paying", "tipping", "honestly", "seriously", "literally", "please", "pls", "plz", "mate",
        "buddy", "bro", "dude", "sorry", "hate", "hates", "owe", "feel", "easier", "simpler",
        "whatever", "asap",
    ]
)
NOT_IN_OBJECT_NAMES = CLAUSE_WORDS | SOCIAL_WORDS
# "a pair of shoes", "a bunch of flowers": the noun after "of" is the object.
COLLECTIVE_NOUNS = frozenset(
    [
        "pair", "group", "bunch", "couple", "set", "stack", "pile", "bouquet", "flock", "herd",
        "pack", "crowd", "row", "line", "team", "family", "swarm", "cluster", "heap", "bundle",
        "kind", "type", "sort", "piece", "slice", "loaf", "cup", "glass", "bottle", "bowl",
    ]
)
_PREPOSITION_LIKE = POSTMODIFIERS | DETERMINERS | {"up", "down", "out", "off", "some", "2"}


def starts_description(word: str, following: str, head: str) -> bool:
    """Whether ``word`` (after the head noun ``head``) begins a description of it."""
    if word == "of":
        return head not in COLLECTIVE_NOUNS
    if word in POSTMODIFIERS:
        return True
    # a participle: "the ladder leaning on the wall", "the woman holding the balloons"
    return is_participle(word) and following in _PREPOSITION_LIKE


# Nouns that look like participles ("the oil painting", "the office building").
_ING_ED_NOUNS = frozenset(
    [
        "painting", "building", "drawing", "ceiling", "railing", "clothing", "sibling", "awning",
        "earring", "string", "spring", "offspring", "landing", "evening", "pudding", "dumpling",
        "duckling", "seedling", "sapling", "opening", "crossing", "filling", "siding", "frosting",
        "icing", "lightning", "stuffing", "wedding", "bedding", "carving", "engraving", "sling",
        "swing", "sibling", "setting", "topping", "coating", "plating", "bracelet", "sled", "shed",
        "bed", "seed", "weed", "steed", "reed", "bleed", "speed", "tweed", "embed", "hundred",
        "sacred", "naked", "fringing", "clipping", "cutting", "lettering", "signage", "tubing",
        "piping", "decking", "flooring", "paneling", "panelling", "fencing", "netting", "scaffolding",
        "wiring", "housing", "parking", "recording", "reading", "mooring",
    ]
)


def is_participle(word: str) -> bool:
    """Whether ``word`` after a noun reads as a participle describing it ("walking", "parked")."""
    return len(word) > 4 and word.endswith(("ing", "ed")) and word not in _ING_ED_NOUNS


_IRREGULAR_PLURALS: dict[str, str] = {
    "people": "person", "children": "child", "mice": "mouse", "geese": "goose",
    "feet": "foot", "teeth": "tooth", "oxen": "ox", "knives": "knife", "wives": "wife",
    "lives": "life", "leaves": "leaf", "loaves": "loaf", "wolves": "wolf", "calves": "calf",
    "halves": "half", "shelves": "shelf", "scarves": "scarf", "thieves": "thief",
    "elves": "elf", "cacti": "cactus", "fungi": "fungus", "dice": "die", "women": "woman",
    "men": "man", "lenses": "lens", "gases": "gas", "canvases": "canvas", "atlases": "atlas",
    "aliases": "alias", "biases": "bias", "irises": "iris",
}
_IES_TO_IE = frozenset(
    [
        "cookies", "movies", "zombies", "brownies", "hippies", "selfies", "rookies", "calories",
        "goalies", "collies", "boogies", "beanies", "birdies", "pixies"
    ]
)
_OES_TO_O = frozenset(
    [
        "tomatoes", "potatoes", "heroes", "echoes", "mangoes", "volcanoes", "torpedoes",
        "dominoes", "mosquitoes", "buffaloes", "tornadoes"
    ]
)
_ES_KEEPS_E = frozenset(
    [
        "moustaches", "mustaches", "niches", "caches", "headaches", "avalanches", "quiches",
        "psyches", "creches"
    ]
)
_NOT_MEN_PLURALS = frozenset(
    [
        "omen", "amen", "abdomen", "specimen", "regimen", "semen", "stamen", "hymen", "ramen",
        "yemen"
    ]
)
# Grammatically plural words naming one thing: "remove the glasses" is one pair of glasses.
_PLURALIA_TANTUM = frozenset(
    [
        "glasses", "sunglasses", "eyeglasses", "spectacles", "goggles", "pants", "jeans",
        "shorts", "trousers", "scissors", "binoculars", "headphones", "earphones", "pajamas",
        "pyjamas", "tights", "leggings", "overalls", "clothes", "stairs", "tongs", "pliers",
        "news", "series", "species", "means", "headquarters", "braces", "suspenders", "sweatpants",
        "sweats", "panties", "knickers", "undies", "trunks", "briefs", "boxers", "dentures",
        "tweezers", "clippers", "pyjama", "overalls", "dungarees"
    ]
)
_SINGULAR_ENDINGS_IS = frozenset(
    [
        "iris", "tennis", "axis", "trellis", "pelvis", "analysis", "basis", "oasis", "crisis",
        "thesis", "chassis", "this", "lens", "atlas", "canvas", "gas", "bias", "alias",
        "christmas", "pancreas", "mattress", "walrus", "octopus", "cactus", "hummus", "jeans"
    ]
)


def singularise(word: str) -> str:
    """The singular of an English noun ("boxes" -> "box", "puppies" -> "puppy").

    Words that are already singular come back unchanged ("glass", "bus", "cactus").
    """
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if len(word) <= 3 or not word.endswith("s") or "'" in word:
        if word.endswith("men") and word not in _NOT_MEN_PLURALS and len(word) > 3:
            return word[:-3] + "man"
        return word
    if word.endswith(("ss", "us")) or word in _SINGULAR_ENDINGS_IS:
        return word
    if word.endswith("ies"):
        if word in _IES_TO_IE or len(word) <= 4:
            return word[:-1]
        return word[:-3] + "y"
    if word.endswith("oes"):
        return word[:-2] if word in _OES_TO_O else word[:-1]
    if word.endswith(("sses", "shes", "ches", "xes", "zzes")):
        return word[:-1] if word in _ES_KEEPS_E else word[:-2]
    if word.endswith("ses") and word[:-2].endswith("us") and not word[:-2].endswith(("ous", "aus")):
        return word[:-2]
    return word[:-1]


def is_plural_noun(word: str) -> bool:
    """Whether ``word`` is a plural count noun ("cats", "people"), not a plurale tantum."""
    return word not in _PLURALIA_TANTUM and singularise(word) != word


_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
_NUMBER_WORD = "|".join([*_UNITS, *_TENS, "hundred", "thousand"])
_NUMBER_RUN = re.compile(rf"\b(?:(?:a|an)\s+)?(?:{_NUMBER_WORD})(?:[\s-]+(?:{_NUMBER_WORD}))*\b")
# A lone "one" is usually a pronoun ("the one on the left"); it is a number before these.
_UNIT_AFTER_ONE = re.compile(
    r"\s*(?:pixels?|px|percent|%|times|quarters?|thirds?|halves|half|fifths?|tenths?|"
    r"cop(?:y|ies)|hundred)\b"
)


def _number_value(words: list[str]) -> int:
    total, current = 0, 0
    for word in words:
        if word in ("a", "an"):
            current = 1
        elif word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
    return total + current


def numbers_to_digits(text: str) -> str:
    """Spell-out numbers as digits ("two hundred pixels" -> "200 pixels")."""

    def replace(match: re.Match[str]) -> str:
        words = re.split(r"[\s-]+", match.group(0))
        if words[0] in ("a", "an") and words[1] not in ("hundred", "thousand"):
            return match.group(0)
        if words == ["one"] and not _UNIT_AFTER_ONE.match(text, match.end()):
            return match.group(0)
        return str(_number_value(words))

    return _NUMBER_RUN.sub(replace, text)


def joins_noun_phrase(word: str) -> bool:
    """Whether a determiner may follow ``word`` inside one noun phrase ("in the", "holding a", "of
    the", "all the")."""
    return word in POSTMODIFIERS or word in DETERMINERS or word in ALL_QUANTIFIERS or is_participle(
        word) or word.isdigit() or word in ("one", "than", "as", "and", "half")

# The end of a reorder's wording ("to the back", "in front of everything"), not an object.
LAYER_WORDS = frozenset(
    ["front", "back", "foreground", "background", "forefront", "rear", "backdrop", "layer", "stack",
     "everything", "else", "all", "others", "forward", "forwards", "backward", "backwards", "behind"]
)
