-- Reserved for the polls feature (issue 3).
SELECT 1;
