"""Where broadcast results are kept so that the system that started a run can read them.

A flow's return value is persisted to the Prefect server's *default result storage*: a
filesystem block the server names to every client and flow run.  Flows and callers then
agree on the place without any setting of their own, and ``state.result()`` reads it from
any machine that reaches both the Prefect API and that storage.  On one machine (``clarion
up``, the tests) it is a ``LocalFileSystem`` block, ``clarion-results``, under the data
directory; a site with several machines points the same block name at shared storage (an
S3 bucket, an SMB share, an NFS mount) and sets it with ``prefect result-storage set``.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

RESULTS_BLOCK = "clarion-results"


async def ensure_result_storage(basepath: Path) -> UUID:
    """Save the ``clarion-results`` block at ``basepath`` and make it the server's default
    result storage, unless the server already has a default (a site's own choice wins)."""
    from prefect.client.orchestration import get_client
    from prefect.filesystems import LocalFileSystem
    async with get_client() as client:
        current = await client.read_server_default_result_storage()
        if current.default_result_storage_block_id is not None:
            return current.default_result_storage_block_id
        basepath.mkdir(parents=True, exist_ok=True)
        block_id = await LocalFileSystem(basepath=str(basepath.resolve())).asave(
            RESULTS_BLOCK, overwrite=True, client=client)
        await client.update_server_default_result_storage(block_id)
        return block_id
