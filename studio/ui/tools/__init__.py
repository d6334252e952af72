"""Tools: what a method contributes to the studio window, through the small contract in
:mod:`studio.ui.tools.contract`; one subpackage per method."""
