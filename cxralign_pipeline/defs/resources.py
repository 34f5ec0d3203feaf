"""The resources and executor of this deployment, chosen by configuration (environment
variables), never by editing an asset.

``CXRALIGN_ENVIRONMENT=local`` (the default; ``make demo``, ``make ui``, tests): the catalog in
``$CXRALIGN_DATA_DIR``, training as Pipes subprocesses, every other step inside the run's own
process (``CXRALIGN_LOCAL_EXECUTOR=in_process``: a step of a small batch takes seconds, and a
process per step and per check cost minutes of start-up on two cores;
``multiprocess`` runs independent steps side by side on a bigger machine).
``CXRALIGN_ENVIRONMENT=production``: the same catalog path on a shared volume, each step in its
own Kubernetes job (``k8s_job_executor``: per-partition fan-out) and each pre-training run in a
GPU pod (``PipesK8sClient``); README, "Production deployment".
"""

import os
from collections.abc import Mapping
from typing import Literal

import dagster as dg
from dagster_k8s import k8s_job_executor
from pydantic import BaseModel, Field

from cxralign_pipeline.defs.train.launchers import K8sTrainingLauncher, LocalTrainingLauncher
from cxralign_pipeline.lib.resources import CatalogResource, pipeline_data_dir

ENV_PREFIX = "CXRALIGN_"


class Deployment(BaseModel):
    """Where the pipeline runs; each field is read from ``CXRALIGN_<FIELD>``."""

    environment: Literal["local", "production"] = "local"
    data_dir: str = Field(default_factory=pipeline_data_dir)
    image: str = Field(default="", description="production: the image every pod runs.")
    k8s_namespace: str = "default"
    data_claim: str = Field(default="", description="production: PVC mounted at data_dir.")
    secret: str = Field(default="", description="production: Secret whose keys (e.g. "
                        "CXRALIGN_DEID_KEY) become environment variables of every pod.")
    training_gpus: int = Field(default=1, ge=0)
    max_concurrent_steps: int = Field(default=8, ge=1)
    local_executor: Literal["in_process", "multiprocess"] = Field(
        default="in_process", description="local: where a run's steps execute.")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Deployment":
        names = {f"{ENV_PREFIX}{field.upper()}": field for field in cls.model_fields}
        return cls.model_validate({field: env[name] for name, field in names.items() if name in env})

    def volume(self) -> tuple[dict, dict]:
        """The data volume and its mount, identical in every pod."""
        return ({"name": "data", "persistentVolumeClaim": {"claimName": self.data_claim}},
                {"name": "data", "mountPath": self.data_dir})


def local_resources(data_dir: str) -> dict[str, dg.ConfigurableResource]:
    """Every resource an asset asks for, on this machine, against ``data_dir`` (tests pass a
    temporary one)."""
    return {"catalog": CatalogResource(data_dir=data_dir), "training_launcher": LocalTrainingLauncher()}


def step_job_config(deployment: Deployment) -> dict[str, object]:
    """``k8s_job_executor`` config: every step a Kubernetes job on the project image, with the
    data volume and this deployment's settings (so each step loads the same resources), at most ``max_concurrent_steps`` at a time."""
    volume, mount = deployment.volume()
    return {
        "job_image": deployment.image, "job_namespace": deployment.k8s_namespace,
        "volumes": [volume], "volume_mounts": [mount],
        "env_vars": [f"{ENV_PREFIX}{name.upper()}={value}"
                     for name, value in deployment.model_dump().items()],
        "env_secrets": [deployment.secret] if deployment.secret else [],
        "max_concurrent": deployment.max_concurrent_steps,
    }


def deployment_definitions(deployment: Deployment) -> dg.Definitions:
    """The resources (catalog, training launcher) and executor for ``deployment``."""
    if deployment.environment == "local":
        executor = (dg.in_process_executor if deployment.local_executor == "in_process"
                    else dg.multiprocess_executor.configured(
                        {"max_concurrent": deployment.max_concurrent_steps}))
        return dg.Definitions(resources=local_resources(deployment.data_dir), executor=executor)
    if not deployment.image or not deployment.data_claim:
        raise ValueError("production needs CXRALIGN_IMAGE and CXRALIGN_DATA_CLAIM")
    launcher = K8sTrainingLauncher(
        image=deployment.image, namespace=deployment.k8s_namespace, gpus=deployment.training_gpus,
        data_claim=deployment.data_claim, data_dir=deployment.data_dir, secret=deployment.secret,
    )
    executor = k8s_job_executor.configured(step_job_config(deployment), name="cxralign_k8s_steps")
    catalog = CatalogResource(data_dir=deployment.data_dir)
    return dg.Definitions(resources={"catalog": catalog, "training_launcher": launcher},
                          executor=executor)


@dg.definitions
def resources() -> dg.Definitions:
    return deployment_definitions(Deployment.from_env())
