# Test helper: validates a rendered configuration document with the Lambdas' own model
# (fairshare.config.parse_config, pydantic, extra="forbid"); a rejected document fails the apply.
terraform {
  required_version = ">= 1.7"
}

variable "config_document" {
  description = "The platform's config_document output."
  type        = any
}

variable "python" {
  description = "Python with the project installed (.venv)."
  type        = string
}

variable "pythonpath" {
  description = "PYTHONPATH holding lambda_src."
  type        = string
}

resource "terraform_data" "validate" {
  input = jsonencode(var.config_document)

  provisioner "local-exec" {
    command = "\"$PYTHON\" -c 'import os; from fairshare.config import parse_config; c = parse_config(os.environ[\"DOCUMENT\"], source=\"rendered configuration\"); print(\"valid:\", sorted(c.tenants))'"
    environment = {
      PYTHON     = var.python
      PYTHONPATH = var.pythonpath
      DOCUMENT   = self.input
    }
  }
}

output "document" {
  description = "The validated document."
  value       = terraform_data.validate.output
}
