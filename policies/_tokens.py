"""pulumi-aws 7 type tokens used by the policies (one place, so a typo fails the registry test)."""

API_ACCOUNT = "aws:apigateway/account:Account"
API_KEY = "aws:apigateway/apiKey:ApiKey"
API_DOMAIN = "aws:apigateway/domainName:DomainName"
API_METHOD = "aws:apigateway/method:Method"
API_METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
API_REQUEST_VALIDATOR = "aws:apigateway/requestValidator:RequestValidator"
API_REST_API = "aws:apigateway/restApi:RestApi"
API_STAGE = "aws:apigateway/stage:Stage"
API_USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
API_USAGE_PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
APIGW2_DOMAIN = "aws:apigatewayv2/domainName:DomainName"

WAF_WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
NETWORK_ACL = "aws:ec2/networkAcl:NetworkAcl"
DEFAULT_NETWORK_ACL = "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl"
NETWORK_ACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
NETWORK_ACL_ASSOCIATION = "aws:ec2/networkAclAssociation:NetworkAclAssociation"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
EIP = "aws:ec2/eip:Eip"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
EBS_DEFAULT_ENCRYPTION = "aws:ebs/encryptionByDefault:EncryptionByDefault"

KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
RDS_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"

DYNAMODB_TABLE = "aws:dynamodb/table:Table"
APPAUTOSCALING_TARGET = "aws:appautoscaling/target:Target"

LAMBDA_FUNCTION = "aws:lambda/function:Function"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
LAMBDA_FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
LAMBDA_EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"

SQS_QUEUE = "aws:sqs/queue:Queue"
SQS_QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
SQS_REDRIVE_ALLOW = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
SNS_TOPIC = "aws:sns/topic:Topic"
SNS_TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"

S3_BUCKET = "aws:s3/bucket:Bucket"
S3_BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
S3_BUCKETS = (S3_BUCKET, S3_BUCKET_V2)
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
S3_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
S3_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
S3_LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
S3_LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
S3_OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
S3_ACL = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")

SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 - a type token
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"  # noqa: S105
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"  # noqa: S105

TRAIL = "aws:cloudtrail/trail:Trail"
CONFIG_RECORDER = "aws:cfg/recorder:Recorder"
CONFIG_RECORDER_STATUS = "aws:cfg/recorderStatus:RecorderStatus"
CONFIG_DELIVERY_CHANNEL = "aws:cfg/deliveryChannel:DeliveryChannel"
GUARDDUTY_DETECTOR = "aws:guardduty/detector:Detector"
GUARDDUTY_FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
INSPECTOR_ENABLER = "aws:inspector2/enabler:Enabler"
SECURITYHUB_ACCOUNT = "aws:securityhub/account:Account"
SECURITYHUB_STANDARDS = "aws:securityhub/standardsSubscription:StandardsSubscription"
ACCESS_ANALYZER = "aws:accessanalyzer/analyzer:Analyzer"
ALTERNATE_CONTACT = "aws:account/alternativeContact:AlternativeContact"

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"
EVENT_BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
LOG_RESOURCE_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"

IAM_ROLE = "aws:iam/role:Role"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
IAM_POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
IAM_ROLE_POLICIES_EXCLUSIVE = "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive"
IAM_GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
IAM_USER_POLICY_ATTACHMENTS_EXCLUSIVE = "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive"
IAM_GROUP_POLICY_ATTACHMENTS_EXCLUSIVE = "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive"
IAM_ACCESS_KEY = "aws:iam/accessKey:AccessKey"
IAM_USER_LOGIN_PROFILE = "aws:iam/userLoginProfile:UserLoginProfile"
IAM_SERVICE_SPECIFIC_CREDENTIAL = "aws:iam/serviceSpecificCredential:ServiceSpecificCredential"
IAM_SIGNING_CERTIFICATE = "aws:iam/signingCertificate:SigningCertificate"
IAM_ACCOUNT_PASSWORD_POLICY = "aws:iam/accountPasswordPolicy:AccountPasswordPolicy"  # noqa: S105 - a type token
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
