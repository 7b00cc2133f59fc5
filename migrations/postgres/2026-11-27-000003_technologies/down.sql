DROP TABLE technology_reviews;
DROP TABLE research_results;
DROP TABLE technologies;
