"""What layeredit cannot do, recognised by name, so that a refusal says which part of a request
is out of scope and what is in scope, instead of a generic "could not understand".

Each pattern is matched against one normalised clause. They are written so that supported clauses
never match ("move the red car" is not a recolouring; "make the cat bigger" is a resize).
"""

from __future__ import annotations

import re

from layeredit.agent.errors import UnsupportedEditError

SUPPORTED = (
    "layeredit moves, removes, resizes, flips, duplicates, swaps, reorders objects and pans/zooms "
    "the camera"
)
_COLOURS = (
    r"(?:red|green|blue|yellow|orange|purple|violet|pink|brown|black|white|gr[ae]y|golden|gold|silver"
    r"|beige|teal|cyan|magenta|monochrome|colou?rful|vivid|vibrant|pale|bright|dark|light|warm|cool"
    r"|redder|greener|bluer|yellower|brighter|darker|lighter|warmer|cooler|paler|more\s+colou?rful)"
)
_REASONS: tuple[tuple[str, str], ...] = (
    (r"\b(?:except|apart\s+from|other\s+than|all\s+but|but\s+not)\b",
     "selecting every object except some is not supported; name the objects to edit"),
    (r"\b(?:rotat\w*|degrees?|clockwise|counter\s*clockwise|anti\s*clockwise|straighten\w*)\b",
     "rotation is not supported ('flip' mirrors an object, 'turn upside down' flips it vertically)"),
    (r"^crop(?:ped|ping)?\b(?!.*\bout\b)|\baspect\s+ratio\b",
     "cropping is not supported (try 'zoom out' or 'pan')"),
    (r"^(?:recolou?r|colou?r(?:i[sz]e)?|paint|repaint|tint|dye|brighten|darken|lighten|saturate|desaturate"
     r"|whiten|blacken)\b(?!\s+(?:\w+\s+){0,3}out\b)"
     rf"|^(?:make|turn|get|render)\b.*\b{_COLOURS}$|^(?:change|adjust|fix|alter)\s+(?:the\s+)?colou?rs?\b",
     "recolouring is not supported"),
    (r"\b(?:look(?:s|ing)?\s+like|in\s+the\s+(?:style|manner)\s+of)\b|^(?:make|turn|convert|render|transform"
     r"|restyle|styli[sz]e|apply|give|add)\b.*\b(?:watercolou?r|cartoon(?:ish|y)?|anime|oil\s+painting|sketch"
     r"|drawing|van\s+gogh|ghibli|pixar|pixel\s+art|filter|vintage|retro|sepia|style|effect)\b",
     "changing the style of the picture is not supported"),
    (r"\b(?:smil\w*|frown\w*|laugh\w*|wink\w*|grin\w*|(?:facial\s+)?expressions?|pose|posture"
     r"|(?:open|close)\s+(?:his|her|their|its)\s+(?:eyes|mouth)|eyes\s+(?:open|closed)|makeup"
     r"|hair(?:style|cut)?|younger|older|skinnier|slimmer\s+face)\b",
     "changing a person's expression, pose or appearance is not supported"),
    (r"^(?:add|write|put|type|insert|place)\s+(?:some\s+|the\s+|a\s+|my\s+)?(?:text|words?|caption|title"
     r"|quote|watermark|signature|name|date)\b|^(?:write|type|print|spell|letter)\b",
     "adding text is not supported"),
    (r"^(?:replace|substitute)\b|\bswap\s+out\b|\b(?:with|by)\s+(?:a|an|some)\s+\w+\s+instead\b"
     r"|^(?:change|turn|transform|convert|make|morph)\s+.+?\s+(?:into|to)\s+(?:a|an|some)\s+",
     "replacing an object with a different one is not supported"),
    (r"\b(?:lighting|exposure|contrast|brightness|white\s+balance|saturation|red\s+eyes?|blemish\w*"
     r"|wrinkles?|acne|noise|grain|glare|blurry|blurr?ed|out\s+of\s+focus|low\s+quality|resolution"
     r"|looks?\s+(?:better|nicer|good|great|professional|sharper|clearer|cleaner|more\s+\w+|less\s+\w+))\b"
     r"|^(?:fix|enhance|retouch|restore|repair|improve|sharpen|blur|unblur|deblur|denoise|smooth(?:en)?"
     r"|upscale|clean\s+up|correct|touch\s+up|airbrush)\b",
     "retouching (lighting, focus, blemishes, picture quality) is not supported"),
    (r"^(?:remove|erase|delete|get\s+rid\s+of|cut\s+out|change|replace|swap|blur|clear|white\s+out)\s+(?:the\s+)?"
     r"(?:whole\s+|entire\s+)?(?:background|backdrop|bg)$",
     "removing or replacing the whole background is not supported (objects in front of it can be removed)"),
    (r"^(?:add|put|place|insert|draw|paint|create|generate|give\s+(?:him|her|them|it|the\s+\w+))\s+"
     r"(?:a|an|some|new|my|our|his|her|their)\s+(?!(?:\d+\s+)?(?:copy|copies|second|third|duplicate|clone|replica|few\s+cop)\w*\b)"
     r"(?!.*__file)",
     "adding new objects is not supported (only copies of objects in the picture, or objects from "
     "another image: 'insert the dog from dog.png')"),
    (r"^(?:add|put|place|draw|give)\s+(?!(?:the|a|an|this|that|it|them|another|one\s+more|a\s+second"
     r"|an\s+extra|\d+\s+more|cop(?:y|ies))\b)(?:\w+\s+){1,2}(?:to|on|onto)\s+"
     r"(?:the|a|an|his|her|my|their|our)\b(?!.*__file)",
     "adding new objects is not supported (only copies of objects in the picture, or objects from "
     "another image: 'insert the dog from dog.png')"),
    (r"^(?:make|get|have)\s+(?:\w+\s+){0,4}look\b(?!\s+like)",
     "changing how an object or a person looks is not supported"),
)
_PATTERNS = tuple((re.compile(pattern), reason) for pattern, reason in _REASONS)
# Verbs that change how an object looks rather than where it is or how big it is.
_APPEARANCE = re.compile(r"^(?:make|turn|get|render)\s")


def unsupported_reason(clause: str) -> str | None:
    """Why ``clause`` asks for something layeredit does not do, or None if it may be supported."""
    for pattern, reason in _PATTERNS:
        if pattern.search(clause):
            return reason
    return None


def refusal(clause: str, reason: str) -> UnsupportedEditError:
    return UnsupportedEditError(clause, reason, f'{reason}: "{clause}" ({SUPPORTED})')


def appearance_refusal(clause: str) -> UnsupportedEditError | None:
    """For a "make X ..." that is neither a resize nor a removal: changing looks is out of scope."""
    if _APPEARANCE.match(clause):
        return refusal(clause, "changing how an object looks is not supported")
    return None
