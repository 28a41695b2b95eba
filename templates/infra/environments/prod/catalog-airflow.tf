# The catalog (Airflow) in production.
module "catalog-airflow" {
  source               = "../../modules/services/catalog-airflow"
  docker_image_tag     = "rel-2024.04.01.12.00.00"
  running_dags_cleared = false
}
