variable "docker_image_tag" {
  type        = string
  description = "The image to run, rel-YYYY.MM.DD.HH.MM.SS."
}

variable "data_refresh_cleared" {
  type        = bool
  default     = null
  description = "true only for the apply of a production deploy, once no data refresh is running"

  validation {
    condition     = var.data_refresh_cleared != false
    error_message = "Refusing to deploy: data_refresh_cleared is false. Check that no data refresh is running, then set it to true for the apply."
  }
}

output "docker_image_tag" {
  value = var.docker_image_tag
}
