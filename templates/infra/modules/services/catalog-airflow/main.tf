variable "docker_image_tag" {
  type        = string
  description = "The image to run, rel-YYYY.MM.DD.HH.MM.SS."
}

variable "running_dags_cleared" {
  type        = bool
  default     = null
  description = "true only for the apply of a production deploy, once no DAG is running"

  validation {
    condition     = var.running_dags_cleared != false
    error_message = "Refusing to deploy: running_dags_cleared is false. Check that no DAG is running, then set it to true for the apply."
  }
}

output "docker_image_tag" {
  value = var.docker_image_tag
}
