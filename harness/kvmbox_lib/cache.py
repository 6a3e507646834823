# kvmbox build cache: files keyed by their inputs, written atomically (temp file + rename).
import glob
import hashlib
import json
import os
import tempfile
import time

from kvmbox_lib.errors import BoxError

STALE_AFTER_S = 3600


def cache_dir(env):
    if env.get("KVMBOX_CACHE_DIR"):
        return env["KVMBOX_CACHE_DIR"]
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kvmlab", "kvmbox")


def file_identity(path):
    st = os.stat(path)
    return [path, st.st_size, st.st_mtime_ns]


def source_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def key_of(parts):
    """Short stable hash of a JSON-serialisable description of a cached file's inputs."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def prune_stale(directory, prefix, keep):
    """Drop other files named prefix-* once they are old enough that no running box still needs them."""
    for path in glob.glob(os.path.join(glob.escape(directory), glob.escape(prefix) + "-*")):
        try:
            if path != keep and os.stat(path).st_mtime < time.time() - STALE_AFTER_S:
                os.unlink(path)
        except OSError:
            pass


def cached_file(env, prefix, key, suffix, build):
    """Return the path of cache file prefix-key+suffix, creating it from build() (bytes) via temp file + rename."""
    directory = cache_dir(env)
    path = os.path.join(directory, f"{prefix}-{key}{suffix}")
    if os.path.isfile(path):
        return path
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(build())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as e:
        raise BoxError(f"cannot write to the cache {directory}: {e.strerror}")
    prune_stale(directory, prefix, path)
    return path
