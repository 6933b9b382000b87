import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadline.settings")
# On SQLite, requests leave checkpoints to the worker (decision 8): a checkpoint copies the WAL
# into the database and syncs both, and it fell on whichever request committed the 1000th page.
# 16384 pages (64 MB) is the safety net for a web process with no worker beside it.
os.environ.setdefault("LEADLINE_SQLITE_AUTOCHECKPOINT", "16384")
application = get_wsgi_application()

from leadline.journeys.pain_matching import pain_matching_warm  # noqa: E402 (needs Django set up)

# With LEADLINE_PAIN_MATCHING=semantic, the model loads now, not in the first conversation logged.
pain_matching_warm()
# What is loaded by now lives as long as the process. Frozen, it is left out of the collector's
# full passes, which otherwise scanned it all again: 50-90 ms pauses that fell on the requests in
# flight (bench/capture.py, gc callbacks in the web and worker processes).
gc.freeze()
