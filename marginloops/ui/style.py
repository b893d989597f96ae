"""Colours and sizes shared by the charts: the Okabe-Ito palette, readable on a projector."""

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour
# vision deficiency. Every mark also differs by shape, line style or legend label.
BLACK = "#000000"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#8C8C8C"  # a neutral grey beside the palette, always paired with its own symbol

FIG_LAYOUT = {"width": "100%", "height": "300px", "min_width": "360px"}
FIG_MARGIN = {"top": 40, "bottom": 50, "left": 75, "right": 30}
