# The ingestion server in production.
module "ingestion-server" {
  source               = "../../modules/services/ingestion-server"
  docker_image_tag     = "rel-2024.05.01.12.00.00"
  data_refresh_cleared = false
}
