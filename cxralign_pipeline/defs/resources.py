"""The resources every stage shares, bound for this deployment."""

import dagster as dg

from cxralign_pipeline.lib.resources import CatalogResource, pipeline_data_dir


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"catalog": CatalogResource(data_dir=pipeline_data_dir())})
