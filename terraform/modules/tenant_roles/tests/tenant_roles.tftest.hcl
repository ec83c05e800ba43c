mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  name_prefix        = "fs"
  stage              = "dev"
  results_bucket_arn = "arn:aws:s3:::fs-dev-results-123456789012"
  trusted_role_arns = [
    "arn:aws:iam::123456789012:role/fs-dev-dispatcher-role",
    "arn:aws:iam::123456789012:role/fs-dev-api-role",
  ]
  tenants = {
    analytics = {
      databases      = ["web", "clicks"]
      data_locations = ["arn:aws:s3:::datalake/analytics/", "arn:aws:s3:::reference"]
      workgroup_arn  = "arn:aws:athena:us-east-1:123456789012:workgroup/fs-dev-analytics"
    }
    finance = {
      databases      = ["ledger"]
      data_locations = ["arn:aws:s3:::finance-data/"]
      workgroup_arn  = "arn:aws:athena:us-east-1:123456789012:workgroup/fs-dev-finance"
    }
  }
}

run "one_role_per_tenant_trusting_only_the_functions" {
  command = plan

  assert {
    condition     = toset(keys(aws_iam_role.tenant)) == toset(["analytics", "finance"])
    error_message = "expected one role per tenant"
  }

  assert {
    condition     = aws_iam_role.tenant["analytics"].name == "fs-dev-tenant-analytics" && aws_iam_role.tenant["analytics"].path == "/fs/dev/tenants/"
    error_message = "role names are <prefix>-<stage>-tenant-<tenant> under the path /<prefix>/<stage>/tenants/"
  }

  assert {
    condition = alltrue([for r in values(aws_iam_role.tenant) : length(jsondecode(r.assume_role_policy).Statement) == 1 && alltrue([
      for s in jsondecode(r.assume_role_policy).Statement : s.Effect == "Allow" && s.Action == "sts:AssumeRole" && keys(s.Principal) == ["AWS"] && toset(s.Principal.AWS) == toset(var.trusted_role_arns) && !can(s.Condition)
    ])])
    error_message = "a tenant role trusts exactly the platform's functions, nothing else"
  }
}

run "each_role_reaches_only_its_own_data" {
  command = plan

  # Everything a role's policy names, per tenant, and what another tenant owns.
  variables {
    tenants = {
      analytics = {
        databases      = ["web", "clicks"]
        data_locations = ["arn:aws:s3:::datalake/analytics/", "arn:aws:s3:::reference"]
        workgroup_arn  = "arn:aws:athena:us-east-1:123456789012:workgroup/fs-dev-analytics"
      }
      finance = {
        databases      = ["ledger"]
        data_locations = ["arn:aws:s3:::finance-data/"]
        workgroup_arn  = "arn:aws:athena:us-east-1:123456789012:workgroup/fs-dev-finance"
      }
      marketing = {
        databases     = ["campaigns"]
        workgroup_arn = "arn:aws:athena:us-east-1:123456789012:workgroup/fs-dev-marketing"
      }
    }
  }

  assert {
    condition = alltrue(flatten([
      for tenant, p in output.policies : [
        for other, t in var.tenants : [
          for s in p.Statement : [
            for r in flatten([s.Resource]) : alltrue(concat(
              [r != t.workgroup_arn],
              [for db in t.databases : !strcontains(r, ":database/${db}") && !strcontains(r, ":table/${db}/")],
              [for loc in t.data_locations : !startswith(r, trimsuffix(loc, "/"))],
              [!startswith(r, "${var.results_bucket_arn}/results/${other}/")],
            ))
          ]
        ] if other != tenant
      ]
    ]))
    error_message = "a tenant role names another tenant's workgroup, database, data location or results prefix"
  }

  assert {
    condition = alltrue([for tenant, p in output.policies : alltrue([
      for s in p.Statement : alltrue([for a in flatten([s.Action]) : !strcontains(a, "*")]) && alltrue([for r in flatten([s.Resource]) : r != "*"])
    ])])
    error_message = "no wildcard action and no Resource \"*\" in a tenant role"
  }

  assert {
    condition     = one([for s in output.policies["analytics"].Statement : s if s.Sid == "OwnResults"]).Resource == ["arn:aws:s3:::fs-dev-results-123456789012/results/analytics/*"]
    error_message = "a tenant's results are its own prefix of the results bucket"
  }

  assert {
    condition     = toset(one([for s in output.policies["analytics"].Statement : s if s.Sid == "ReadOwnData"]).Resource) == toset(["arn:aws:s3:::datalake/analytics/*", "arn:aws:s3:::reference/*"])
    error_message = "data objects are the tenant's own data locations"
  }

  assert {
    condition     = length([for s in output.policies["marketing"].Statement : s if s.Sid == "ReadOwnData"]) == 0
    error_message = "a tenant without data locations gets no S3 data grant"
  }

  assert {
    condition     = contains(one([for s in output.policies["finance"].Statement : s if s.Sid == "ReadOwnCatalog"]).Resource, "arn:aws:glue:us-east-1:123456789012:table/ledger/*")
    error_message = "a tenant reads its own databases' tables"
  }
}

run "adding_a_tenant_adds_its_role" {
  command = plan

  variables {
    tenants = {
      analytics = {
        databases     = ["web"]
        workgroup_arn = "arn:aws:athena:us-east-1:123456789012:workgroup/fs-dev-analytics"
      }
      a-team-with-a-very-long-name-of-forty-chars = {
        databases     = ["newdb"]
        workgroup_arn = "arn:aws:athena:us-east-1:123456789012:workgroup/fs-dev-new"
      }
    }
  }

  assert {
    condition     = length(aws_iam_role.tenant) == 2 && length(aws_iam_role_policy.tenant) == 2
    error_message = "a new tenant gets its role and its policy"
  }

  assert {
    condition     = length(aws_iam_role.tenant["a-team-with-a-very-long-name-of-forty-chars"].name) <= 64 && startswith(aws_iam_role.tenant["a-team-with-a-very-long-name-of-forty-chars"].name, "fs-dev-tenant-a-team")
    error_message = "a long role name is shortened to IAM's 64 characters"
  }
}

run "rejects_wildcard_data_locations" {
  command = plan

  variables {
    tenants = {
      analytics = {
        databases      = ["web"]
        data_locations = ["arn:aws:s3:::*"]
        workgroup_arn  = "arn:aws:athena:us-east-1:123456789012:workgroup/fs-dev-analytics"
      }
    }
  }

  expect_failures = [var.tenants]
}
