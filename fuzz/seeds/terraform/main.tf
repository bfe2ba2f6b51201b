# The orders team's API Gateway configuration, as the grantguard demo reads it: offline,
# never planned or applied. The bundled account (demo-account.json) has these grants.

variable "analytics_grant_name" {
  description = "Set per environment in a .tfvars file: grantguard cannot know it."
  type        = string
}

resource "alicloud_api_gateway_group" "orders" {
  name        = "orders"
  description = "orders API"
}

resource "alicloud_api_gateway_vpc_access" "orders" {
  name        = "orders-slb-80"
  vpc_id      = "vpc-uf657qec7lx42paw3qxxx"
  instance_id = "lb-uf6bzcg1pr4oh5jjmxxx"
  port        = 80
}

resource "alicloud_api_gateway_api" "get_order" {
  group_id     = alicloud_api_gateway_group.orders.id
  name         = "getOrder"
  description  = "one order by id"
  auth_type    = "APP"
  service_type = "HTTP-VPC"

  request_config {
    protocol = "HTTP"
    method   = "GET"
    path     = "/orders/[id]"
    mode     = "MAPPING"
  }

  http_vpc_service_config {
    name    = alicloud_api_gateway_vpc_access.orders.name
    method  = "GET"
    path    = "/orders/[id]"
    timeout = 3000
  }

  stage_names = ["RELEASE", "PRE"]
}

resource "alicloud_api_gateway_vpc_access" "analytics" {
  name        = var.analytics_grant_name
  vpc_id      = "vpc-bp1reports0000000xxx"
  instance_id = "i-bp1analytics000000xxx"
  port        = 7001
}

module "billing" {
  source = "./modules/billing"
  grants = {
    "billing-ecs-8080" = { instance_id = "i-bp1billing00000000xxx", port = 8080 }
  }
}
