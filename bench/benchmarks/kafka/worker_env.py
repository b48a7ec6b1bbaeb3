"""The environment both Kafka benchmarks give `blacklodge worker`: the benchmark's handler
(app.py, `app:score`), one input and one output topic, its own group, the admin port on
loopback, and none of the caller's BLACKLODGE_* variables."""

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker_env(bootstrap, source, sink, group, admin_port, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLACKLODGE_")}
    env.update({
        "BLACKLODGE_ENTRYPOINT": "app:score",
        "BLACKLODGE_APP_DIR": str(HERE),
        "BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "BLACKLODGE_KAFKA_TOPICS": source,
        "BLACKLODGE_KAFKA_OUTPUT_TOPIC": sink,
        "BLACKLODGE_KAFKA_GROUP_ID": group,
        "BLACKLODGE_HOST": "127.0.0.1",
        "BLACKLODGE_ADMIN_PORT": str(admin_port),
    })
    env.update(extra)
    return env
