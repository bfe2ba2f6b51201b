locals {
  legacy_vpc = "vpc-bp1legacy00000000xxx"
}

resource "alicloud_api_gateway_vpc_access" "this" {
  for_each = {
    "legacy-unused-443" = { instance_id = "i-bp1legacy000000000xxx", port = 443 }
    "legacy-spare-444"  = { instance_id = "i-bp1legacy000000000xxx", port = 444 }
  }
  name        = each.key
  vpc_id      = local.legacy_vpc
  instance_id = each.value.instance_id
  port        = each.value.port
}
