"""Settings module for `rq worker -c helpdesk.rq_settings`: preloads the app before forking.

Only the RQ worker imports this module; the web app and the jobs module never build an app
at import time.
"""

from .tasks import preload

preload()
