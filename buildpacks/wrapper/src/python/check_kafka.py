"""Imports the Kafka client the way the worker will, for the blacklodge/wrapper buildpack.

Run with the app's Python; the arguments are the harness layer's dependency directories,
added to sys.path after the app's own packages as bin/blacklodge does. Prints one JSON
object: confluent-kafka's version, librdkafka's version and where the package was found.
An import error ends it with Python's traceback.
"""

import json
import site
import sys

for directory in sys.argv[1:]:
    site.addsitedir(directory)

import confluent_kafka  # noqa: E402

print(
    json.dumps(
        {
            "version": confluent_kafka.version()[0],
            "librdkafka": confluent_kafka.libversion()[0],
            "file": confluent_kafka.__file__,
        }
    )
)
