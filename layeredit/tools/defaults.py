"""The perception defaults, defined once: the models that find objects by name and their thresholds.

This module imports nothing, so every perception module and every interface can read it without
loading model libraries or forming an import circle.
"""

DEFAULT_GROUNDING_MODEL = "IDEA-Research/grounding-dino-tiny"
DEFAULT_SAM_MODEL = "facebook/sam-vit-base"
DEFAULT_BOX_THRESHOLD = 0.35  # least confidence for a detected box
DEFAULT_TEXT_THRESHOLD = 0.25  # least confidence that a box is the phrase
