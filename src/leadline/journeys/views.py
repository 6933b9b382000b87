"""Public pages of journeys: the tracking script customers' sites embed."""

from __future__ import annotations

from leadline.core.links import public_script
from leadline.core.permissions import public

# /t.js: <script src="https://LEADLINE/t.js" data-site="KEY" async></script>
tracking_js = public("the tracking script: static code, nobody's data")(
    public_script("journeys/t.js")
)
