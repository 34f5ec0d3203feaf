"""Where a pre-training process runs: a local subprocess, or a Kubernetes pod with GPUs.

Both launch the same command (``python -m cxralign_pipeline.defs.train.pipes ...``, or torchrun
with it when ``nproc_per_node`` > 1) through Dagster Pipes and hand back the run's report; which
one the ``training_launcher`` resource is comes from the deployment's configuration
(``defs/resources.py``), not from the asset.
"""

from collections.abc import Sequence
from typing import Any

import dagster as dg
from dagster_k8s import PipesK8sClient
from dagster_k8s.pipes import build_pod_body
from kubernetes.client import V1Pod
from pydantic import Field


class TrainingLauncher(dg.ConfigurableResource):
    """What ``pretrained_model`` asks for: something that runs a pre-training command."""

    def launch(self, context: dg.AssetExecutionContext, command: Sequence[str]) -> list[dict]:
        """Run ``command`` to completion; return the custom messages it reported."""
        raise NotImplementedError


class LocalTrainingLauncher(TrainingLauncher):
    """Runs each pre-training command as a subprocess of the step (CPU or the host's GPUs)."""

    def launch(self, context: dg.AssetExecutionContext, command: Sequence[str]) -> list[dict]:
        return dg.PipesSubprocessClient().run(context=context, command=list(command)).get_custom_messages()


class K8sTrainingLauncher(TrainingLauncher):
    """Runs each pre-training command in its own Kubernetes pod that requests GPUs and mounts
    the data volume at the same path the orchestrator's pods use, so every path in the command
    means the same file there."""

    image: str = Field(description="Image with the cxralign package installed (see README).")
    namespace: str = Field(default="default", description="Namespace of the training pods.")
    gpus: int = Field(default=1, ge=0, description="nvidia.com/gpu limit of a training pod.")
    data_claim: str = Field(description="PersistentVolumeClaim holding the data directory.")
    data_dir: str = Field(description="Where the claim is mounted (the catalog's data_dir).")
    secret: str = Field(default="", description="Secret whose keys become environment variables.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="e.g. a GPU pool.")

    def pod_spec(self, command: Sequence[str]) -> dict[str, Any]:
        """The pod a training run gets: one container, GPUs, the data volume, no restarts
        (a failed run is retried by Dagster, and training resumes from its checkpoint)."""
        resources = {"limits": {"nvidia.com/gpu": str(self.gpus)}} if self.gpus else {}
        return {
            "restart_policy": "Never",
            "node_selector": dict(self.node_selector),
            "containers": [{
                "name": "pretrain", "image": self.image, "command": list(command),
                "resources": resources,
                "env_from": [{"secret_ref": {"name": self.secret}}] if self.secret else [],
                "volume_mounts": [{"name": "data", "mount_path": self.data_dir}],
            }],
            "volumes": [{"name": "data",
                         "persistent_volume_claim": {"claim_name": self.data_claim}}],
        }

    def pod(self, command: Sequence[str], name: str = "cxralign-pretrain") -> V1Pod:
        """The validated pod manifest, as ``PipesK8sClient`` builds it (no cluster needed)."""
        return build_pod_body(name, None, None, {}, None, self.pod_spec(command))

    def launch(self, context: dg.AssetExecutionContext, command: Sequence[str]) -> list[dict]:
        """Run ``command`` in a pod, streaming its Pipes messages from the pod's logs."""
        client = PipesK8sClient(load_incluster_config=True)
        invocation = client.run(context=context, namespace=self.namespace,
                                base_pod_spec=self.pod_spec(command))
        return invocation.get_custom_messages()
