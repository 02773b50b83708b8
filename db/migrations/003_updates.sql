-- Reserved for scheduled updates and news feeds (issue 4).
SELECT 1;
