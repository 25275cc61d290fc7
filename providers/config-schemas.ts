// Values the deployment configuration's provider sections share (ARNs), for their manifests.
import * as z from 'zod';

export const SecretArnSchema = z
  .string()
  .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+/, {
    message:
      "must be a Secrets Manager secret ARN ('arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-abc123')",
  });

export const RoleArnSchema = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/, {
  message: "must be an IAM role ARN ('arn:aws:iam::ACCOUNT:role/NAME')",
});
