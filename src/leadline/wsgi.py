import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadline.settings")
application = get_wsgi_application()
# What is loaded by now lives as long as the process. Frozen, it is left out of the collector's
# full passes, which otherwise scanned it all again: 50-90 ms pauses that fell on the requests in
# flight (bench/capture.py, gc callbacks in the web and worker processes).
gc.freeze()
