"""Resources per environment: configuration picks them, and the production ones build valid
Kubernetes pod and job specs without a cluster."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster._config import process_config
from dagster_k8s import DagsterK8sJobConfig, construct_dagster_k8s_job, k8s_job_executor

from cxralign.layout import pretrain_run_dir as model_dir
from cxralign.train.runs import pretrain_command
from cxralign_pipeline.defs.resources import Deployment, deployment_definitions, step_job_config
from cxralign_pipeline.defs.train.assets import PIPES_ENTRY_POINT
from cxralign_pipeline.defs.train.launchers import K8sTrainingLauncher, LocalTrainingLauncher

PRODUCTION = {
    "CXRALIGN_ENVIRONMENT": "production", "CXRALIGN_IMAGE": "registry.example/cxralign:1.0",
    "CXRALIGN_DATA_CLAIM": "cxralign-data", "CXRALIGN_DATA_DIR": "/data",
    "CXRALIGN_K8S_NAMESPACE": "cxralign", "CXRALIGN_TRAINING_GPUS": "8",
    "CXRALIGN_SECRET": "cxralign-keys",
}


def test_local_is_the_default_and_runs_training_as_a_subprocess(tmp_path):
    defs = deployment_definitions(Deployment.from_env({"CXRALIGN_DATA_DIR": str(tmp_path)}))
    assert isinstance(defs.resources["training_launcher"], LocalTrainingLauncher)
    assert defs.resources["catalog"].data_dir == str(tmp_path)
    assert defs.executor is dg.in_process_executor  # small steps: no process per step


def test_the_local_executor_is_chosen_by_configuration(tmp_path):
    defs = deployment_definitions(Deployment.from_env({
        "CXRALIGN_DATA_DIR": str(tmp_path), "CXRALIGN_LOCAL_EXECUTOR": "multiprocess",
        "CXRALIGN_MAX_CONCURRENT_STEPS": "2"}))
    assert defs.executor.executor_creation_fn is dg.multiprocess_executor.executor_creation_fn


def test_production_needs_an_image_and_a_data_volume():
    with pytest.raises(ValueError, match="CXRALIGN_IMAGE"):
        deployment_definitions(Deployment.from_env({"CXRALIGN_ENVIRONMENT": "production"}))


def test_production_training_pod_requests_gpus_and_mounts_the_data():
    defs = deployment_definitions(Deployment.from_env(PRODUCTION))
    launcher = defs.resources["training_launcher"]
    assert isinstance(launcher, K8sTrainingLauncher)
    data = Path("/data")
    command = pretrain_command(data, model_dir(data, "asg", 1), "asg", 1,
                               settings_file=data / ".settings.json", nproc_per_node=8,
                               entry_point=PIPES_ENTRY_POINT)
    pod = launcher.pod(command)  # validated against the Kubernetes models
    container = pod.spec.containers[0]
    assert container.image == PRODUCTION["CXRALIGN_IMAGE"]
    assert container.resources.limits == {"nvidia.com/gpu": "8"}
    assert "torch.distributed.run" in container.command and "--nproc-per-node=8" in container.command
    assert container.command[container.command.index("-m", 3) + 1] == "cxralign_pipeline.defs.train.pipes"
    assert [m.mount_path for m in container.volume_mounts] == ["/data"]
    assert pod.spec.volumes[0].persistent_volume_claim.claim_name == "cxralign-data"
    assert pod.spec.restart_policy == "Never"
    assert container.env_from[0].secret_ref.name == "cxralign-keys"


def test_production_steps_run_as_kubernetes_jobs_on_the_same_volume():
    deployment = Deployment.from_env(PRODUCTION)
    executor = deployment_definitions(deployment).executor
    assert executor.name == "cxralign_k8s_steps"
    assert executor.executor_creation_fn is k8s_job_executor.executor_creation_fn
    config = process_config(k8s_job_executor.config_schema.config_type, step_job_config(deployment))
    assert config.success, config.errors
    values = config.value
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(job_image=values["job_image"], dagster_home="/opt/dagster/home",
                            volumes=values["volumes"], volume_mounts=values["volume_mounts"],
                            env_vars=values["env_vars"], env_secrets=values["env_secrets"]),
        args=["dagster", "api", "execute_step"], job_name="cxralign-step",
    )
    pod = job.spec.template.spec
    assert pod.containers[0].image == PRODUCTION["CXRALIGN_IMAGE"]
    assert pod.volumes[0].persistent_volume_claim.claim_name == "cxralign-data"
    assert pod.containers[0].volume_mounts[0].mount_path == "/data"
    assert values["job_namespace"] == "cxralign"
    env = {variable.name: variable.value for variable in pod.containers[0].env}
    assert env["CXRALIGN_ENVIRONMENT"] == "production" and env["CXRALIGN_DATA_DIR"] == "/data"
    assert pod.containers[0].env_from[0].secret_ref.name == "cxralign-keys"
