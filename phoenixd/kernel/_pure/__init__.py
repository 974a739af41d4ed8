"""The pure-Python twin of the compiled kernel: the same names, results and exception types.

Used when the extension is not built or PHOENIX_NO_EXTENSIONS is set; phoenixd.kernel re-exports
whichever twin is active. One module per concern, as the compiled twin's include files.
"""

from typing import Final

from phoenixd.kernel._pure.eligibility import RULES as RULES
from phoenixd.kernel._pure.eligibility import eligibility as eligibility
from phoenixd.kernel._pure.hashing import hash32 as hash32
from phoenixd.kernel._pure.ring import DEFAULT_VNODES as DEFAULT_VNODES
from phoenixd.kernel._pure.ring import Ring as Ring
from phoenixd.kernel._pure.scoring import argmax_binpack as argmax_binpack
from phoenixd.kernel._pure.scoring import argmax_trust as argmax_trust
from phoenixd.kernel._pure.scoring import scores_binpack as scores_binpack
from phoenixd.kernel._pure.scoring import scores_trust as scores_trust
from phoenixd.kernel._pure.scoring import top_scores as top_scores

KERNEL: Final[str] = "pure"
