# The ingestion server in production.
module "ingestion-server" {
  source               = "../../modules/services/ingestion-server"
  docker_image_tag     = "rel-2024.04.02.09.30.00"
  data_refresh_cleared = false
}
